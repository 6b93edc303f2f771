"""What rules can read (`needs`), projecting facts onto it, and rule independence."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from hypothesis import given, settings

from scoring.engine import (
    EVERY_EVENT,
    Condition,
    EventFact,
    LeadFacts,
    Needs,
    changes_with_time,
    definition,
    evaluate,
    needs,
    project,
)
from scoring.engine.conditions import event_key, name_key
from tests.scoring.engine.builders import NOW, ago, cond, page, rule, track
from tests.scoring.engine.test_properties import event_lists, lead_options, rule_sets


def test_behavior_rule_needs_its_event_and_condition_paths():
    whitepaper = rule(
        event="Document Downloaded ",
        conditions=[
            cond("properties.category", "eq", "pricing"),
            cond("properties.doc.lang", "eq", "ja"),
            cond("context.page.path", "startswith", "/ja"),
        ],
    )

    assert needs([whitepaper]) == Needs(
        keys=frozenset({"document downloaded"}),
        properties=frozenset({("category",), ("doc", "lang")}),
        context=frozenset({("page", "path")}),
    )


def test_fit_rules_need_no_events_only_lead_fields():
    plan = needs(
        [rule("fit", conditions=[cond("traits.plan", "eq", "pro"), cond("country", "eq", "JP")])]
    )

    assert (plan.events, plan.lead_fields) == (False, frozenset({"traits.plan", "country"}))


def test_inactivity_needs_its_after_and_watch_events():
    quiet = rule(
        "inactivity",
        after_event="Document Downloaded",
        watch_events=["page", "Email Opened"],
        inactive_days=14,
    )

    plan = needs([quiet])

    assert (plan.every_event, plan.keys) == (
        False,
        frozenset({"document downloaded", name_key("page"), "email opened"}),
    )


def test_inactivity_without_watch_list_needs_every_event():
    plan = needs([rule("inactivity", after_event="Document Downloaded", inactive_days=14)])

    assert plan.every_event is True
    assert plan.wants(track("Anything at all", ago(1)))
    assert not plan.wants(EventFact("i1", "identify", "", ago(1)))


def test_the_loaded_event_types_are_exactly_those_a_rule_can_see():
    # The loader asks the database for EVERY_EVENT only; the engine finds an event under a
    # key (behaviour, anchor, activity) only for these types: the same set.
    types = ["track", "page", "screen", "identify", "group", "alias"]

    seen = [t for t in types if event_key(EventFact("m1", t, "Anything", ago(1))) is not None]

    assert tuple(seen) == EVERY_EVENT == ("track", "page", "screen")


def test_paths_are_minimal_and_numeric_segments_load_the_whole_object():
    nested = rule(conditions=[cond("properties.a", "exists"), cond("properties.a.b", "eq", 1)])
    indexed = rule(id=2, conditions=[cond("properties.items.0", "eq", "x")])

    assert needs([nested]).properties == frozenset({("a",)})
    assert needs([nested, indexed]).properties is None  # "0" would index arrays in SQL


def test_inactive_rules_need_nothing():
    assert needs([rule(event="Email Opened", active=False)]) == Needs()


def test_project_keeps_only_wanted_events_and_paths():
    plan = needs(
        [rule(event="Webinar Attended", conditions=[cond("properties.topic.id", "eq", 7)])]
    )
    event = track("Webinar Attended", ago(1), id="w1", topic={"id": 7, "title": "DX"}, seats=3)

    assert project(page(ago(1)), plan) is None
    assert project(event, plan) == dataclasses.replace(event, properties={"topic": {"id": 7}})


def test_changes_with_time():
    assert changes_with_time([rule(event="x", half_life_days=30)])
    assert changes_with_time([rule(event="x", expire_after_days=30)])
    assert changes_with_time([rule("inactivity", inactive_days=3)])
    assert not changes_with_time([rule(event="x", max_times=1, window_days=7)])
    assert not changes_with_time([rule(event="x", half_life_days=30, active=False)])


def test_definition_ignores_id_and_name_only():
    one = rule(id=1, name="Pricing", event="Document Downloaded", points=20)
    same = rule(id=9, name="Renamed", event="Document Downloaded", points=Decimal("20.00"))
    other = rule(id=1, name="Pricing", event="Document Downloaded", points=21)

    assert definition(one) == definition(same)
    assert hash(definition(one)) == hash(definition(same))
    assert definition(one) != definition(other)


def _unique_ids(events: list[EventFact]) -> list[EventFact]:
    return list({e.id: e for e in events}.values())


def _with_nested(events: list[EventFact]) -> list[EventFact]:
    # Extra fields the rules never read, to make projection drop something.
    return [
        dataclasses.replace(e, properties={**e.properties, "noise": {"a": 1}}, context={"ip": "x"})
        for e in events
    ]


@settings(max_examples=150, deadline=None)
@given(events=event_lists(), rules=rule_sets(), options=lead_options)
def test_projected_facts_score_exactly_like_the_full_facts(events, rules, options):
    country, epoch_hours = options
    stored = _with_nested(_unique_ids(events))  # message ids are unique in the database
    epoch = None if epoch_hours is None else ago(0, seconds=epoch_hours * 3600)
    plan = needs(rules)
    projected = [p for p in (project(e, plan) for e in stored) if p is not None]

    full = evaluate(LeadFacts(country=country, events=stored, score_epoch=epoch), rules, now=NOW)
    less = evaluate(LeadFacts(country=country, events=projected, score_epoch=epoch), rules, now=NOW)

    assert less == full


@settings(max_examples=150, deadline=None)
@given(events=event_lists(), rules=rule_sets(), options=lead_options)
def test_each_rule_contributes_independently_of_the_others(events, rules, options):
    country, _ = options
    facts = LeadFacts(country=country, events=events)

    together = evaluate(facts, rules, now=NOW)
    alone = [c for r in rules for c in evaluate(facts, [r], now=NOW).breakdown]

    assert together.breakdown == tuple(sorted(alone, key=lambda c: c.rule_id))


def test_condition_type_is_unchanged_by_projection():
    # A condition on a path that holds a list keeps the whole list.
    plan = needs([rule(event="x", conditions=[Condition("properties.tags", "contains", "dx")])])
    event = track("x", ago(1), id="t1", tags=["dx", "iot"])

    assert project(event, plan).properties == {"tags": ["dx", "iot"]}
