"""`refade`: a score moved forward in time from its fading sums, without its events, equals
`evaluate` at that moment (the hourly refresh's fast path, scoring/services/scores.py).

The property: with (score, until, state) = evaluate_state(facts, rules, now=now), for any
later moment t before `state.discrete`, refade(score.breakdown, state, rules, since=now, now=t)
is None (it declines: a total within float error of a rounding boundary) or gives exactly
evaluate(facts, rules, now=t); and again from its own answer, as the refresh chains it hour
after hour.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from hypothesis import given, reject, settings
from hypothesis import strategies as st

from scoring.engine import Scorer, evaluate, evaluate_state, refade
from tests.scoring.engine.builders import NOW, ago, lead, rule, track
from tests.scoring.engine.test_next_change import scored, seen, time_rules
from tests.scoring.engine.test_scorer import leads


@settings(max_examples=400, deadline=None)
@given(
    rules=st.lists(st.integers(1, 6), min_size=1, max_size=4, unique=True).flatmap(
        lambda ids: st.tuples(*(time_rules(i) for i in ids)).map(list)
    ),
    facts=leads(),
    later=st.integers(min_value=-48, max_value=24 * 20),
    steps=st.lists(st.floats(min_value=0, max_value=30 * 24), min_size=1, max_size=4),
)
def test_refade_equals_evaluate_at_every_later_moment_before_a_discrete_change(
    rules, facts, later, steps
):
    now = NOW + timedelta(hours=later)
    try:
        score, until, state = evaluate_state(facts, rules, now=now)
    except (ValueError, ArithmeticError):
        reject()  # an unknown operator: evaluate raises, nothing to move forward
    assert Scorer(rules).evaluate_state(facts, now=now) == (score, until, state)
    by_id = {r.id: r for r in rules if r.active}
    since, breakdown, current = now, score.breakdown, state
    for hours in sorted(steps):
        moment = now + timedelta(hours=hours)
        if moment < since:
            continue
        moved = refade(breakdown, current, by_id, since=since, now=moment)
        if current.discrete is not None and moment >= current.discrete:
            assert moved is None  # something besides fading may change: the events decide
            return
        if moved is None:
            return  # declined at a rounding boundary
        new_score, new_until, new_state = moved
        assert seen(new_score) == scored(facts, rules, moment), (moment, current)
        assert new_until is None or new_until >= moment
        if new_until is not None and new_until > moment:  # its next change is never late
            assert scored(facts, rules, moment + (new_until - moment) / 2) == seen(new_score)
        since, breakdown, current = moment, new_score.breakdown, new_state


FADING = rule(event="Demo Requested", points=10, half_life_days=1)
EXPIRING = rule(id=2, event="Demo Requested", points=5, expire_after_days=3)


def test_a_fading_score_moves_forward_without_its_events():
    facts = lead(*(track("Demo Requested", ago(d)) for d in (0, 1, 2)))
    score, _, state = evaluate_state(facts, [FADING], now=NOW)
    assert score.score == Decimal("17.50")  # 10 + 5 + 2.5
    assert [(f.rule_id, f.future) for f in state.fades] == [(FADING.id, 0)]

    later = NOW + timedelta(days=1)
    moved = refade(score.breakdown, state, {FADING.id: FADING}, since=NOW, now=later)

    assert moved is not None
    assert moved[0].score == Decimal("8.75") == evaluate(facts, [FADING], now=later).score


def test_refade_declines_once_an_expiry_is_due():
    facts = lead(track("Demo Requested", ago(1)))
    rules = {FADING.id: FADING, EXPIRING.id: EXPIRING}
    score, _, state = evaluate_state(facts, list(rules.values()), now=NOW)
    assert state.discrete == ago(1) + timedelta(days=3)  # the expiry, not a fading cent

    assert refade(score.breakdown, state, rules, since=NOW, now=NOW + timedelta(days=1))
    assert refade(score.breakdown, state, rules, since=NOW, now=NOW + timedelta(days=2)) is None
    assert refade(score.breakdown, state, {}, since=NOW, now=NOW + timedelta(hours=1)) is None
