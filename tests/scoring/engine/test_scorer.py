"""`Scorer` (rules prepared once for a batch) scores exactly like `evaluate`, lead by lead.

The generated data aims at what the Scorer does differently: one Scorer for many leads (its
remembered condition answers carry over), every operator on values of every JSON type and
on equal values of different types (1, 1.0, True, "1"), one-part and nested paths, events
with and without duplicate ids (copies at one moment with other content among them),
identify, group and alias calls, unknown kinds and operators and bad half-lives (the same
error at the same point), inactivity with and without an anchor event.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.engine import OPS, Condition, EventFact, LeadFacts, Rule, Scorer, evaluate
from tests.scoring.engine.builders import NOW, ago, cond, lead, page, rule, track

NAMES = ["Document Downloaded", " document downloaded", "Email Opened", "EMAIL OPENED", "page",
         "screen", "Straße", "STRASSE"]  # fmt: skip
# Scalars that compare equal across types, numeric text, case variants, lists.
VALUES: list[Any] = [
    "pricing", "Pricing", "PRICING ", "docs", "", "250", "250.0", " 250 ", "2.5e2", "abc",
    250, 250.0, 1, 1.0, 0, -0.0, True, False, 2.5, "Straße", "strasse", ["pricing", 250],
    ["Docs"], {"a": "pricing"}, None,
]  # fmt: skip
EXPECTED: list[Any] = [
    "pricing", "PRICING", "250", 250, 250.0, 1, True, False, "", "/pri", "strasse", None,
    ("docs", "250"), ("pricing",), (1, True), 0,
]  # fmt: skip
EVENT_FIELDS = ["properties.category", "properties.doc.lang", "context.page.path",
                "properties.0", "traits.plan"]  # fmt: skip
CALLS = ["identify", "group", "alias"]
FIT_FIELDS = ["country", "title", "employees", "email_domain", "traits.plan", "traits.a.b"]

# Mostly whole days: ties between events, and events exactly at a window's or an inactivity
# span's end, are common.
hours = st.integers(min_value=-2, max_value=30).map(lambda d: d * 24) | st.integers(-72, 90 * 24)
moments = hours.map(lambda h: NOW - timedelta(hours=h))
values = st.sampled_from(VALUES) | st.none()


def rarely(common: st.SearchStrategy[Any], rare: Any) -> st.SearchStrategy[Any]:
    """Mostly `common`, one time in twenty `rare` (errors end a whole example early)."""
    return st.integers(0, 19).flatmap(lambda i: st.just(rare) if i == 0 else common)


ops = rarely(st.sampled_from(sorted(OPS)), "magic")


def _nested(path: str, value: Any) -> dict[str, Any]:
    node: Any = value
    for part in reversed(path.split(".")):
        node = {part: node}
    return node


@st.composite
def events(draw: st.DrawFn, id: str) -> EventFact:
    type_ = draw(st.sampled_from(["track", "track", "track", "page", "screen", *CALLS]))
    name = draw(st.sampled_from(NAMES)) if type_ == "track" else ""
    properties: dict[str, Any] = {}
    for path in draw(st.lists(st.sampled_from(["category", "doc.lang", "0"]), max_size=2)):
        properties.update(_nested(path, draw(values)))
    context = draw(st.sampled_from([{}, {"page": {"path": "/pricing/x"}}, {"page": None}]))
    return EventFact(id, type_, name, draw(moments), properties, context)


@st.composite
def event_lists(draw: st.DrawFn) -> list[EventFact]:
    count = draw(st.integers(min_value=0, max_value=20) | st.integers(min_value=8, max_value=20))
    # Few ids for many events: duplicates (the earliest copy wins) are common.
    unique = draw(st.booleans())
    ids = [f"m{i:02}" if unique else f"m{draw(st.integers(0, 6))}" for i in range(count)]
    found = [draw(events(i)) for i in ids]
    # Copies that share an id and a moment with an event but not its content.
    for original in draw(st.lists(st.sampled_from(found), max_size=3)) if found else []:
        other = draw(events(original.id))
        found.append(dataclasses.replace(other, timestamp=original.timestamp))
    return found


def conditions(fields: list[str]) -> st.SearchStrategy[tuple[Condition, ...]]:
    one = st.builds(Condition, st.sampled_from(fields), ops, st.sampled_from(EXPECTED))
    return (st.just([]) | st.lists(one, min_size=1, max_size=2)).map(tuple)


days = st.none() | st.integers(min_value=1, max_value=10).map(Decimal) | st.just(Decimal("0.5"))
points = st.decimals(min_value=-50, max_value=50, places=3)


@st.composite
def rules(draw: st.DrawFn, id: int) -> Rule:
    kind = draw(rarely(st.sampled_from(["behavior", "behavior", "fit", "inactivity"]), "magic"))
    name, value, active = f"rule {id}", draw(points), draw(st.booleans() | st.just(True))
    if kind == "fit":
        return Rule(id, name, kind, value, conditions=draw(conditions(FIT_FIELDS)), active=active)
    if kind in ("inactivity", "magic"):
        return Rule(
            id, name, kind, value,
            after_event=draw(st.none() | st.sampled_from(NAMES)),
            watch_events=tuple(draw(st.lists(st.sampled_from(NAMES), max_size=2))),
            inactive_days=draw(st.none() | st.integers(1, 10).map(Decimal)),
            conditions=draw(conditions(EVENT_FIELDS)), active=active,
        )  # fmt: skip
    max_times = draw(st.none() | st.integers(min_value=0, max_value=3))
    half_life = draw(rarely(days, Decimal(0)))
    return Rule(
        id, name, kind, value,
        event=draw(st.sampled_from([*NAMES, ""])),
        conditions=draw(conditions(EVENT_FIELDS)),
        max_times=max_times,
        window_days=draw(days) if max_times is not None else None,
        half_life_days=half_life,
        expire_after_days=draw(days) if half_life is None else None,
        active=active,
    )  # fmt: skip


@st.composite
def rule_sets(draw: st.DrawFn) -> list[Rule]:
    count = draw(st.integers(min_value=0, max_value=6))
    return [
        draw(rules(draw(st.integers(1, 4)) if draw(st.booleans()) else i)) for i in range(count)
    ]


@st.composite
def leads(draw: st.DrawFn) -> LeadFacts:
    epoch = draw(st.none() | moments)
    return LeadFacts(
        email=draw(st.sampled_from(["a@Example.co.jp", "bad", "", " x@y "])),
        title=draw(st.sampled_from(["部長", "Manager", "manager ", ""])),
        employees=draw(st.none() | st.sampled_from([0, 99, 100, 250])),
        country=draw(st.sampled_from(["JP", "jp", "US", ""])),
        traits=draw(
            st.sampled_from(
                [{}, {"plan": "Pro"}, {"plan": 250}, {"a": {"b": True}}, {"plan": None}]
            )
        ),
        events=draw(event_lists()),
        score_epoch=epoch,
    )


def outcome(score: Any) -> Any:
    """A result or the error it raised, compared exactly (Decimal digits included)."""
    try:
        result = score()
    except (ValueError, ArithmeticError) as exc:
        return type(exc), str(exc)
    return result, repr(result)


@settings(max_examples=300, deadline=None)
@given(rules=rule_sets(), facts=st.lists(leads(), min_size=1, max_size=6), later=st.integers(0, 3))
def test_a_scorer_scores_every_lead_exactly_like_evaluate(rules, facts, later):
    now = NOW + timedelta(hours=later * 12)
    scorer = Scorer(rules)

    for one in facts:
        expected = outcome(lambda one=one: evaluate(one, rules, now=now))
        assert outcome(lambda one=one: scorer.evaluate(one, now=now)) == expected


INACTIVE = rule("inactivity", id=7, after_event="Document Downloaded", inactive_days=5, points=-10)
WATCHING = rule("inactivity", id=8, watch_events=["page"], inactive_days=5, points=-5)


@pytest.mark.parametrize(
    "events",
    [
        [track("Document Downloaded", ago(10)), page(ago(5))],  # activity at the deadline
        [track("Document Downloaded", ago(10)), page(ago(5, seconds=1))],  # just before it
        [track("Document Downloaded", ago(10), id="b"), page(ago(10), id="a")],  # at the anchor
        [track("Document Downloaded", ago(10), id="a"), page(ago(10), id="b")],
        [track("Document Downloaded", ago(5))],  # the deadline is now
        [track("Document Downloaded", ago(5, seconds=-1))],  # a second before it
        [track("Document Downloaded", ago(10)), track("Document Downloaded", ago(5))],
        [page(ago(5)), page(ago(6))],  # the last activity exactly the span ago
        [page(ago(5, seconds=-1))],
    ],
)
@pytest.mark.parametrize("rules", [[INACTIVE], [WATCHING], [INACTIVE, WATCHING],
                                   [rule("inactivity", id=7, after_event="Document Downloaded",
                                         watch_events=["page", "Document Downloaded"],
                                         inactive_days=5)]])  # fmt: skip
def test_inactivity_boundaries_score_like_evaluate(events, rules):
    facts = lead(*events)

    assert Scorer(rules).evaluate(facts, now=NOW) == evaluate(facts, rules, now=NOW)


def test_the_scorer_refuses_naive_times_like_evaluate():
    scorer = Scorer([rule(event="A")])
    naive = datetime(2025, 6, 1)  # noqa: DTZ001 (naive on purpose)

    with pytest.raises(ValueError, match="now must be timezone-aware"):
        scorer.evaluate(LeadFacts(), now=naive)
    with pytest.raises(ValueError, match="timestamp of event 'n1'"):
        scorer.evaluate(lead(track("A", ago(1)), track("A", naive, id="n1")), now=NOW)
    with pytest.raises(ValueError, match="score_epoch must be timezone-aware"):
        scorer.evaluate(LeadFacts(score_epoch=naive), now=NOW)


def test_remembered_answers_never_mix_equal_values_of_other_types():
    # 1 == 1.0 == True in Python; to a condition a bool is not a number.
    scorer = Scorer([rule("fit", conditions=[cond("traits.x", "eq", 1)])])

    fits = [scorer.evaluate(lead(traits={"x": x}), now=NOW).fit for x in (1, True, 1.0, "1")]

    assert fits == [Decimal("10.00"), Decimal("0.00"), Decimal("10.00"), Decimal("10.00")]


def test_one_scorer_serves_leads_with_events_in_other_time_zones():
    tokyo = timezone(timedelta(hours=9))
    rules = [rule(event="page", half_life_days=30), rule(event="page", id=2, max_times=1)]
    facts = [lead(page(ago(3))), lead(page(ago(3).astimezone(tokyo)), page(ago(40)))]
    scorer = Scorer(rules)

    assert [scorer.evaluate(f, now=NOW) for f in facts] == [
        evaluate(f, rules, now=NOW) for f in facts
    ]
