"""`refade`: a score moved forward in time from its fading sums, without its events, equals
`evaluate` at that moment (the hourly refresh's fast path, scoring/services/scores.py).

The property: with (score, until, state) = evaluate_state(facts, rules, now=now), for any
later moment t before `state.discrete`, refade(score.breakdown, state, rules, since=now, now=t)
is None (it declines: a total within float error of a rounding boundary) or gives exactly
evaluate(facts, rules, now=t); and again from its own answer, as the refresh chains it hour
after hour.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from hypothesis import event, given, reject, settings
from hypothesis import strategies as st

from scoring.engine import Rule, Scorer, evaluate, evaluate_state, refade
from tests.scoring.engine.builders import NOW, ago, lead, rule, track
from tests.scoring.engine.test_next_change import points, scored, seen, time_rules
from tests.scoring.engine.test_scorer import NAMES, leads


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


@st.composite
def any_rules(draw: st.DrawFn) -> list[Rule]:
    """Time-driven rules of every kind, and plain behaviour rules (a count times points)."""
    ids = draw(st.lists(st.integers(1, 6), min_size=1, max_size=4, unique=True))
    return [
        draw(
            time_rules(i)
            | st.builds(
                Rule,
                st.just(i),
                st.just(f"rule {i}"),
                st.just("behavior"),
                points,
                event=st.sampled_from(NAMES),
                max_times=st.none() | st.integers(1, 3),
            )
        )
        for i in ids
    ]


@settings(max_examples=400, deadline=None)
@given(
    rules=any_rules(),
    new_points=st.lists(st.none() | points, min_size=6, max_size=6),
    facts=leads(),
    later=st.integers(min_value=-48, max_value=24 * 20),
    hours=st.floats(min_value=0, max_value=30 * 24),
)
def test_rescaled_refade_equals_evaluate_with_rules_that_differ_in_points_only(
    rules, new_points, facts, later, hours
):
    """The simulator's draft that changes rules' points only: the stored breakdown and
    fading sums, moved forward and recomputed with the new points, are the engine's score
    with the draft rules (or None: the engine decides)."""
    now = NOW + timedelta(hours=later)
    try:
        score, _, state = evaluate_state(facts, rules, now=now)
    except (ValueError, ArithmeticError):
        reject()
    draft = [
        r if new_points[r.id - 1] is None else replace(r, points=new_points[r.id - 1])
        for r in rules
    ]
    moment = now + timedelta(hours=hours)
    by_id = {r.id: r for r in draft if r.active}
    moved = refade(score.breakdown, state, by_id, since=now, now=moment, rescaled=True)
    if state.discrete is not None and moment >= state.discrete:
        assert moved is None
        return
    if moved is None:
        event("declined")  # a fading total at a rounding boundary
        return
    event("answered")
    assert seen(moved[0]) == scored(facts, draft, moment), (draft, moment)


def test_rescaled_refade_recomputes_counted_rules_and_fading_sums_with_new_points():
    plain = rule(id=3, event="Demo Requested", points=20)
    facts = lead(*(track("Demo Requested", ago(d)) for d in (0, 1, 2)))
    score, _, state = evaluate_state(facts, [FADING, plain], now=NOW)
    assert score.score == Decimal("77.50")  # 10 + 5 + 2.5, and 3 × 20

    draft = {
        FADING.id: replace(FADING, points=Decimal(4)),
        plain.id: replace(plain, points=Decimal(1)),
    }
    later = NOW + timedelta(days=1)
    moved = refade(score.breakdown, state, draft, since=NOW, now=later, rescaled=True)
    plain_moved = refade(score.breakdown, state, draft, since=NOW, now=later)

    assert moved is not None
    assert plain_moved is not None
    # 4 × (0.5 + 0.25 + 0.125) and 3 × 1; without `rescaled` the plain rule keeps its 60
    assert moved[0].score == Decimal("6.50")
    assert moved[0].score == evaluate(facts, list(draft.values()), now=later).score
    assert plain_moved[0].score == Decimal("63.50")
