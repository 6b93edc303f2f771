"""`next_change`: when a lead's score can next change by time alone (fading, expiry,
inactivity), never later than `evaluate` says, and `Scorer` answers the same.

The property: with t = next_change(facts, rules, now=now), `evaluate` at any moment in
[now, t) gives the score and breakdown it gives at `now`; None means no later moment gives
another. Hand-computed cases show the answer is also not needlessly early.
"""

from __future__ import annotations

import math
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, reject, settings
from hypothesis import strategies as st

from scoring.engine import (
    LeadFacts,
    Rule,
    Score,
    Scorer,
    evaluate,
    evaluate_until,
    next_change,
)
from tests.scoring.engine.builders import NOW, ago, lead, page, rule, track
from tests.scoring.engine.test_scorer import EVENT_FIELDS, FIT_FIELDS, NAMES, conditions, leads

MICROSECOND = timedelta(microseconds=1)
# Half-lives from minutes to a month: roundings cross within the sampled spans.
half_lives = st.sampled_from(
    [Decimal("0.001"), Decimal("0.01"), Decimal("0.1"), Decimal("0.5"), Decimal(1),
     Decimal(7), Decimal(30)]
)  # fmt: skip
spans = st.sampled_from([Decimal("0.5"), Decimal(1), Decimal(3), Decimal(10), Decimal(90)])
points = st.decimals(min_value=-50, max_value=50, places=3) | st.sampled_from(
    [Decimal("0.004"), Decimal("0.005"), Decimal("0.015"), Decimal(0), Decimal(10)]
)


@st.composite
def time_rules(draw: st.DrawFn, id: int) -> Rule:
    kind = draw(st.sampled_from(["fading", "fading", "expiry", "both", "inactivity", "fit"]))
    name, value = f"rule {id}", draw(points)
    if kind == "fit":
        return Rule(id, name, kind, value, conditions=draw(conditions(FIT_FIELDS)))
    if kind == "inactivity":
        return Rule(
            id, name, kind, value,
            after_event=draw(st.none() | st.sampled_from(NAMES)),
            watch_events=tuple(draw(st.lists(st.sampled_from(NAMES), max_size=2))),
            inactive_days=draw(spans),
            conditions=draw(conditions(EVENT_FIELDS)),
        )  # fmt: skip
    max_times = draw(st.none() | st.integers(min_value=1, max_value=4))
    return Rule(
        id, name, "behavior", value,
        event=draw(st.sampled_from(NAMES)),
        conditions=draw(st.just(()) | conditions(EVENT_FIELDS)),
        max_times=max_times,
        window_days=draw(st.none() | spans) if max_times is not None else None,
        half_life_days=draw(half_lives) if kind != "expiry" else None,
        expire_after_days=draw(spans) if kind != "fading" else None,
    )  # fmt: skip


def seen(score: Score) -> Any:
    """A score but for the moment it was computed at."""
    return score.score, score.engagement, score.fit, score.breakdown


def scored(facts: LeadFacts, rules: list[Rule], at: Any) -> Any:
    return seen(evaluate(facts, rules, now=at))


@settings(max_examples=400, deadline=None)
@given(
    rules=st.lists(st.integers(1, 6), min_size=1, max_size=4).flatmap(
        lambda ids: st.tuples(*(time_rules(i) for i in ids)).map(list)
    ),
    facts=leads(),
    later=st.integers(min_value=-48, max_value=24 * 20),
    fractions=st.lists(st.floats(min_value=0, max_value=1, exclude_max=True), max_size=6),
)
def test_the_score_stays_what_it_is_until_the_next_change(rules, facts, later, fractions):
    now = NOW + timedelta(hours=later)
    try:
        score, until = evaluate_until(facts, rules, now=now)
    except (ValueError, ArithmeticError):
        reject()  # an unknown operator: evaluate raises, nothing to schedule
    at_now = seen(score)
    assert score == evaluate(facts, rules, now=now)  # the same pass, the same score
    assert next_change(facts, rules, now=now) == until
    assert Scorer(rules).evaluate_until(facts, now=now) == (score, until)

    if until is None:
        for days in (1, 10, 100, 1_000, 10_000, 100_000, 1_000_000):
            assert scored(facts, rules, now + timedelta(days=days)) == at_now, days
        return
    assert until >= now
    if until == now:
        return  # may change at any moment: nothing to hold it to
    span = until - now
    moments = [now + span * fraction for fraction in fractions]
    moments += [until - MICROSECOND, until - MICROSECOND * 1000, now + span / 2, now]
    for moment in moments:
        if now <= moment < until:
            assert scored(facts, rules, moment) == at_now, (moment, until)


FADING = rule(event="Demo Requested", points=10, half_life_days=1)


def test_a_fresh_fading_event_changes_when_its_rounded_points_first_drop():
    facts = lead(track("Demo Requested", NOW))

    # 10 · 0.5^d stays 10.00 while >= 9.995: d = log2(10 / 9.995) days
    expected = NOW + timedelta(days=math.log2(10 / 9.995))
    until = next_change(facts, [FADING], now=NOW)

    assert until is not None
    assert expected - timedelta(seconds=1) < until <= expected
    assert scored(facts, [FADING], until - MICROSECOND) == scored(facts, [FADING], NOW)
    assert scored(facts, [FADING], expected + timedelta(seconds=1)) != scored(facts, [FADING], NOW)


def test_fading_points_of_many_events_cross_together():
    facts = lead(*(track("Demo Requested", ago(2)) for _ in range(3)))
    now = NOW
    # 3 events 2 days old: 30 · 0.25 = 7.50 now, 7.495 is crossed at 2 + log2(7.5 / 7.495) days
    expected = ago(2) + timedelta(days=2 + math.log2(7.5 / 7.495))
    until = next_change(facts, [FADING], now=now)

    assert until is not None
    assert expected - timedelta(seconds=1) < until <= expected


def test_negative_fading_points_rise_towards_zero_the_same_way():
    negative = rule(event="Demo Requested", points=-10, half_life_days=1)
    facts = lead(track("Demo Requested", NOW))

    expected = NOW + timedelta(days=math.log2(10 / 9.995))
    until = next_change(facts, [negative], now=NOW)

    assert until is not None
    assert expected - timedelta(seconds=1) < until <= expected


def test_a_faded_event_that_rounds_to_nothing_changes_only_when_it_stops_counting():
    facts = lead(track("Demo Requested", ago(30)))  # 10 · 2^-30 ≈ 0.00000001

    until = next_change(facts, [FADING], now=NOW)

    # it still counts (count 1, 0.00 points) until its weight underflows, 1074 half-lives on
    assert until == ago(30) + timedelta(days=1074)
    assert scored(facts, [FADING], until) == scored(facts, [FADING], NOW)
    assert scored(facts, [FADING], ago(30) + timedelta(days=1076)) != scored(facts, [FADING], NOW)


def test_an_event_from_the_future_starts_fading_when_it_happens():
    facts = lead(track("Demo Requested", ago(-2)))

    assert next_change(facts, [FADING], now=NOW) == ago(-2)


def test_expiry_is_the_event_time_plus_expire_after_days():
    expiring = rule(event="Demo Requested", points=10, expire_after_days=7)
    facts = lead(track("Demo Requested", ago(5)), track("Demo Requested", ago(1)))

    until = next_change(facts, [expiring], now=NOW)

    assert until == ago(5) + timedelta(days=7)
    assert scored(facts, [expiring], until)[0] == Decimal("20.00")
    assert scored(facts, [expiring], until + MICROSECOND)[0] == Decimal("10.00")


def test_long_expired_and_capped_events_never_change_again():
    expiring = rule(event="Demo Requested", points=10, expire_after_days=7)
    plain = rule(id=2, event="Demo Requested", points=5)
    facts = lead(track("Demo Requested", ago(100)))

    assert next_change(facts, [expiring, plain], now=NOW) is None


def test_inactivity_starts_the_span_after_the_last_activity():
    quiet = rule("inactivity", points=-20, inactive_days=30)
    facts = lead(page(ago(10)), page(ago(20)))

    until = next_change(facts, [quiet], now=NOW)

    assert until == ago(10) + timedelta(days=30)
    assert scored(facts, [quiet], until - MICROSECOND)[0] == Decimal("0.00")
    assert scored(facts, [quiet], until)[0] == Decimal("-20.00")
    # once it holds, only new events change it
    assert next_change(facts, [quiet], now=until) is None


def test_inactivity_after_an_anchor_changes_at_its_deadline_unless_activity_came():
    anchored = rule("inactivity", points=-5, after_event="Trial Started", inactive_days=7)
    waiting = lead(track("Trial Started", ago(3)))
    answered = lead(track("Trial Started", ago(3)), page(ago(1)))

    assert next_change(waiting, [anchored], now=NOW) == ago(3) + timedelta(days=7)
    assert next_change(answered, [anchored], now=NOW) is None


def test_rules_that_never_change_with_time_have_no_next_change():
    fit = rule("fit", points=5)
    plain = rule(id=2, event="Demo Requested", points=5)

    assert next_change(lead(track("Demo Requested", ago(1))), [fit, plain], now=NOW) is None


@pytest.mark.parametrize("rules", [[FADING], [FADING, rule("inactivity", id=2, inactive_days=3)]])
def test_the_earliest_rule_decides(rules):
    facts = lead(track("Demo Requested", ago(2, seconds=-60)), page(ago(3, seconds=-60)))

    until = next_change(facts, rules, now=NOW)
    each = [next_change(facts, [one], now=NOW) for one in rules]

    assert until == min(t for t in each if t is not None)
