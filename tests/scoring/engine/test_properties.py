"""Property tests: order and duplicates never change a score; the breakdown adds up.

Events include identify, group and alias calls, copies of one message id with other content
(often at the same moment) and ties in time: the engine orders them itself (docs/scoring.md).
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.engine import Condition, EventFact, LeadFacts, Rule, evaluate
from tests.scoring.engine.builders import NOW

NAMES = ["Document Downloaded", "Email Opened", "Webinar Attended", "page", "screen"]
CATEGORIES = ["pricing", "Pricing", "docs", 250, "250", None]

# A few fixed ages make ties (broken by id) and exact window/expiry boundaries common.
hours_ago = st.integers(min_value=-3 * 24, max_value=90 * 24) | st.sampled_from([0, 24, 168, 336])
timestamps = hours_ago.map(lambda hours: NOW - timedelta(hours=hours))


CALLS = ["identify", "group", "alias"]
TYPES = ["track", "track", "track", "page", "screen", *CALLS]


@st.composite
def event_facts(draw: st.DrawFn, id: str, types: list[str] = TYPES) -> EventFact:
    type_ = draw(st.sampled_from(types))
    name = draw(st.sampled_from(NAMES[:3])) if type_ == "track" else ""
    category = draw(st.sampled_from(CATEGORIES))
    properties = {} if category is None else {"category": category}
    return EventFact(id, type_, name, draw(timestamps), properties)


@st.composite
def event_lists(draw: st.DrawFn) -> list[EventFact]:
    count = draw(st.integers(min_value=0, max_value=25))
    # Distinct ids, or few ids for many events: copies of one message id that differ.
    unique = draw(st.booleans())
    ids = [f"m{i:02}" if unique else f"m{draw(st.integers(0, 5))}" for i in range(count)]
    events = [draw(event_facts(id)) for id in ids]
    # Copies that share an id and a timestamp with an event but not its content.
    for original in draw(st.lists(st.sampled_from(events), max_size=4)) if events else []:
        other = draw(event_facts(original.id))
        events.append(dataclasses.replace(other, timestamp=original.timestamp))
    return events


days = st.none() | st.integers(min_value=1, max_value=60).map(Decimal)
points = st.decimals(min_value=-50, max_value=50, places=3)
event_conditions = st.lists(
    st.builds(
        Condition,
        st.just("properties.category"),
        st.sampled_from(["eq", "ne", "contains", "exists", "gte", "in"]),
        st.sampled_from(["pricing", 250, ("docs", "250"), True]),
    ),
    max_size=1,
).map(tuple)


@st.composite
def rules(draw: st.DrawFn, id: int) -> Rule:
    kind = draw(st.sampled_from(["behavior", "behavior", "fit", "inactivity"]))
    name, value = f"rule {id}", draw(points)
    if kind == "fit":
        fit_condition = Condition("country", "eq", draw(st.sampled_from(["JP", "US"])))
        return Rule(id, name, kind, value, conditions=(fit_condition,))
    if kind == "inactivity":
        watch = tuple(draw(st.lists(st.sampled_from(NAMES), max_size=2)))
        after = draw(st.none() | st.sampled_from(NAMES))
        inactive = Decimal(draw(st.integers(min_value=1, max_value=30)))
        return Rule(
            id,
            name,
            kind,
            value,
            after_event=after,
            watch_events=watch,
            inactive_days=inactive,
            conditions=draw(event_conditions),
        )
    max_times = draw(st.none() | st.integers(min_value=1, max_value=3))
    half_life = draw(days)
    return Rule(
        id,
        name,
        kind,
        value,
        event=draw(st.sampled_from(NAMES)),
        conditions=draw(event_conditions),
        max_times=max_times,
        window_days=draw(days) if max_times else None,
        half_life_days=half_life,
        expire_after_days=draw(days) if half_life is None else None,
        active=draw(st.booleans()),
    )


@st.composite
def rule_sets(draw: st.DrawFn) -> list[Rule]:
    count = draw(st.integers(min_value=0, max_value=6))
    return [draw(rules(i)) for i in range(1, count + 1)]


def facts_with(events: list[EventFact], country: str, epoch_hours: int | None) -> LeadFacts:
    epoch = None if epoch_hours is None else NOW - timedelta(hours=epoch_hours)
    return LeadFacts(country=country, events=events, score_epoch=epoch)


lead_options = st.tuples(st.sampled_from(["JP", "US", ""]), st.none() | st.integers(0, 60 * 24))


@settings(max_examples=100, deadline=None)
@given(events=event_lists(), rules=rule_sets(), options=lead_options, data=st.data())
def test_event_order_never_changes_the_score(events, rules, options, data):
    shuffled = data.draw(st.permutations(events))

    before = evaluate(facts_with(events, *options), rules, now=NOW)
    after = evaluate(facts_with(list(shuffled), *options), rules, now=NOW)

    assert after == before


@settings(max_examples=100, deadline=None)
@given(events=event_lists(), rules=rule_sets(), options=lead_options, data=st.data())
def test_duplicate_events_never_change_the_score(events, rules, options, data):
    copies = data.draw(st.lists(st.sampled_from(events), max_size=10)) if events else []
    resent = data.draw(st.permutations(events + copies))

    before = evaluate(facts_with(events, *options), rules, now=NOW)
    after = evaluate(facts_with(list(resent), *options), rules, now=NOW)

    assert after == before


@settings(max_examples=100, deadline=None)
@given(events=event_lists(), rules=rule_sets(), options=lead_options, data=st.data())
def test_later_copies_of_a_message_never_change_the_score(events, rules, options, data):
    # a copy of a message id stamped after its earliest copy, with any content, never counts
    copies = []
    for original in data.draw(st.lists(st.sampled_from(events), max_size=5)) if events else []:
        other = data.draw(event_facts(original.id))
        first = min(e.timestamp for e in events if e.id == original.id)
        hours = data.draw(st.integers(min_value=1, max_value=30 * 24))
        copies.append(dataclasses.replace(other, timestamp=first + timedelta(hours=hours)))
    resent = data.draw(st.permutations(events + copies))

    before = evaluate(facts_with(events, *options), rules, now=NOW)
    after = evaluate(facts_with(list(resent), *options), rules, now=NOW)

    assert after == before


@settings(max_examples=100, deadline=None)
@given(events=event_lists(), rules=rule_sets(), options=lead_options, data=st.data())
def test_identify_group_and_alias_calls_never_change_the_score(events, rules, options, data):
    # no rule kind reads them: not behaviour, not activity for an inactivity rule
    count = data.draw(st.integers(min_value=1, max_value=6))
    calls = [data.draw(event_facts(f"call{i}", CALLS)) for i in range(count)]
    mixed = data.draw(st.permutations(events + calls))

    before = evaluate(facts_with(events, *options), rules, now=NOW)
    after = evaluate(facts_with(list(mixed), *options), rules, now=NOW)

    assert after == before


@settings(max_examples=100, deadline=None)
@given(events=event_lists(), rules=rule_sets(), options=lead_options)
def test_breakdown_adds_up_to_the_score(events, rules, options):
    result = evaluate(facts_with(events, *options), rules, now=NOW)

    assert sum((c.points for c in result.breakdown), Decimal(0)) == result.score
    assert result.engagement + result.fit == result.score
    assert sum((c.points for c in result.breakdown if c.kind == "fit"), Decimal(0)) == result.fit
    assert all(c.points == c.points.quantize(Decimal("0.01")) for c in result.breakdown)
    assert all(c.count > 0 for c in result.breakdown)
    assert [c.rule_id for c in result.breakdown] == sorted(c.rule_id for c in result.breakdown)
    active_ids = {r.id for r in rules if r.active}
    assert {c.rule_id for c in result.breakdown} <= active_ids
    assert result.score.as_tuple().exponent == -2
