"""The refresh's set-based pass (scoring/services/fading.py) equals `engine.refade` on
generated leads, rules and moments, on real PostgreSQL: the same score, engagement, fit and
breakdown, the same fading sums, and a next change at most 2 ms earlier than the engine's
(never later); and it answers for every lead the engine answers for, but those within 2e-9
of a rounding boundary (or at a float underflow), which it leaves to the engine."""

from __future__ import annotations

import math
import uuid
from datetime import timedelta
from decimal import Decimal

import orjson
import pytest
from django.utils import timezone
from hypothesis import HealthCheck, event, given, reject, settings
from hypothesis import strategies as st

from handoff.models import QualifyQueue
from mqlapp.leads.models import Event
from scoring import engine
from scoring.engine import evaluate_state, refade
from scoring.models import LeadScore, ScoreHistory, ScoreQueue
from scoring.services import (
    breakdown_json,
    leads_refresh,
    leads_score,
    rule_create,
    rules_live,
    scores_refresh_due,
)
from scoring.services.fading import refaded_rows
from scoring.services.scores import fades_json
from tests.factories import lead_make
from tests.scoring.engine import builders
from tests.scoring.engine.builders import NOW, ago, track
from tests.scoring.engine.test_next_change import half_lives, points, time_rules
from tests.scoring.engine.test_scorer import NAMES, leads
from tests.scoring.test_refresh import _engine_score_at
from tests.scoring.test_scores import _lead_with

pytestmark = pytest.mark.django_db
VERSION = 7


def _store(lead_id, score, until, state, *, at):
    """The score row as `_leads_score` writes it for an event-driven score at `at`."""
    LeadScore.objects.filter(lead_id=lead_id).update(
        score=score.score, engagement=score.engagement, fit=score.fit,
        breakdown=breakdown_json(score), as_of=at, rules_version=VERSION, next_change_at=until,
        fades=orjson.loads(fades_json(state) or "null"), discrete_at=state.discrete,
    )  # fmt: skip


def _near(total: float, slack: float = 2e-9) -> bool:
    """The pass's own "too close to a half cent to answer" test."""
    value = abs(total)
    cents = math.floor(value * 100 + 0.5) / 100
    low, high = cents - 0.005, cents + 0.005
    return value >= high * (1 - slack) or (low > 0 and value <= low * (1 + slack))


def _may_decline(state, rules, *, since, now) -> bool:
    """Whether the pass may leave this lead to the engine: a total within its wider slack
    of a boundary, or a weight or exponent PostgreSQL would underflow on."""
    days = (now - since).total_seconds() / 86_400
    for fade in state.fades:
        rule = rules[fade.rule_id]
        halvings = days / float(rule.half_life_days)
        if halvings >= 1000 or float(fade.weights) <= 1e-290:
            return True
        weights = float(fade.weights) * 0.5**halvings
        points = float(rule.points)
        if _near(points * fade.future + points * weights):
            return True
    return False


@st.composite
def fading_rule(draw: st.DrawFn, id: int) -> engine.Rule:
    """A rule that fades and nothing else (so that most generated leads have fading sums)."""
    return engine.Rule(
        id,
        f"rule {id}",
        "behavior",
        draw(points),
        event=draw(st.sampled_from(NAMES)),
        half_life_days=draw(half_lives),
    )


@pytest.fixture
def lead_id():
    return lead_make(email="fading-sql@example.com").pk


def test_a_crossing_where_the_future_points_sit_just_below_the_boundary_is_timed_exactly(
    lead_id,
):
    """The case the generated leads found: a rule of 0.005 points with one event to come
    (0.005 for good) and one twenty half-lives old (0.005 × 2^-20 more, fading): the total
    tends to 0.005, a thousand-millionth below the boundary it crosses (0.005000000005), and
    float8 rounds each of those two to within a large share of their difference. The margin
    is taken in numeric where the two are that close: the pass's next change stays the
    engine's, less its 1 ms."""
    rules = [builders.rule(id=7, points="0.005", half_life_days="0.1", event="Opened")]
    facts = builders.lead(track("Opened", ago(2)), track("Opened", ago(-1)))
    score, until, state = evaluate_state(facts, rules, now=NOW)
    assert [(f.future, f.weights) for f in state.fades] == [(1, Decimal(2.0**-20))]
    _store(lead_id, score, until, state, at=NOW)
    moment = NOW + timedelta(hours=1)

    _, expected_until, _ = refade(score.breakdown, state, {7: rules[0]}, since=NOW, now=moment)
    got = refaded_rows([lead_id], rules, version=VERSION, now=moment)[lead_id]

    assert expected_until is not None
    # (ln(x) / ln 2 against log2(x), each rounded to the microsecond: a microsecond or two)
    early = expected_until - got["next_change_at"]
    assert timedelta(microseconds=998) <= early <= timedelta(microseconds=1002)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
@given(
    rules=st.lists(st.integers(1, 6), max_size=3, unique=True).flatmap(
        lambda ids: st.tuples(fading_rule(7), *(time_rules(i) for i in ids)).map(list)
    ),
    facts=leads(),
    later=st.integers(min_value=-48, max_value=24 * 20),
    hours=st.floats(min_value=0, max_value=60 * 24),
)  # fmt: skip
def test_the_set_based_refade_equals_the_engine(lead_id, rules, facts, later, hours):
    now = NOW + timedelta(hours=later)
    try:
        score, until, state = evaluate_state(facts, rules, now=now)
    except (ValueError, ArithmeticError):
        reject()  # an unknown operator: evaluate raises, nothing to move forward
    if not state.fades:
        reject()  # nothing fades: the refresh scores such a lead with the engine
    _store(lead_id, score, until, state, at=now)
    moment = now + timedelta(hours=hours)
    by_id = {r.id: r for r in rules if r.active}

    expected = refade(score.breakdown, state, by_id, since=now, now=moment)
    got = refaded_rows([lead_id], rules, version=VERSION, now=moment).get(lead_id)

    event(
        "declined" if got is None else "answered",
        f"engine {'declined' if expected is None else 'answered'}",
    )
    if got is None:
        # declined: the engine declines too, or the total is within the pass's wider slack
        assert expected is None or _may_decline(state, by_id, since=now, now=moment)
        return
    assert expected is not None, "the pass answered where the engine declines"
    new, new_until, new_state = expected
    assert (got["score"], got["engagement"], got["fit"]) == (new.score, new.engagement, new.fit)
    assert got["breakdown"] == breakdown_json(new)
    assert [(r, f, float(Decimal(w))) for r, f, w in got["fades"]] == [
        (f.rule_id, f.future, float(f.weights)) for f in new_state.fades
    ]
    if new_until is None:
        assert got["next_change_at"] is None
    else:
        assert new_until - timedelta(milliseconds=2) <= got["next_change_at"] <= new_until
    assert got["moved"] == ((new.score, new.engagement, new.fit)
                            != (score.score, score.engagement, score.fit))  # fmt: skip


def test_the_refresh_writes_what_the_engine_would_and_hands_over_only_rising_scores(
    django_capture_on_commit_callbacks,
):
    """Through `leads_refresh`: a fading score and a fading penalty, both moved forward by
    the set-based pass; their rows equal the engine's score on their events, each gets a
    history point, and only the rising one is handed to qualification."""
    now = timezone.now()
    rule_create(data={"name": "Seminar", "kind": "behavior", "event": "Seminar Attended",
                      "points": 40, "half_life_days": 30})  # fmt: skip
    rule_create(data={"name": "Competitor", "kind": "behavior", "event": "Competitor Visit",
                      "points": -20, "half_life_days": 2})  # fmt: skip
    falling = _lead_with("falls@example.com", ("Seminar Attended", now))
    rising = _lead_with("rises@example.com", ("Competitor Visit", now))
    ScoreQueue.objects.all().delete()
    leads_score([falling.pk, rising.pk], now=now)
    QualifyQueue.objects.all().delete()
    later = now + timedelta(days=2)
    version, rules = rules_live()
    assert set(refaded_rows([falling.pk, rising.pk], rules, version=version, now=later)) == {
        falling.pk,
        rising.pk,
    }  # the pass answers for both: the engine's path is not taken

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        changed = leads_refresh([falling.pk, rising.pk], now=later)

    # 40 × 0.5^(2/30) and -20 × 0.5^(2/2)
    assert changed == {falling.pk: Decimal("38.19"), rising.pk: Decimal("-10.00")}
    for lead in (falling, rising):
        row = LeadScore.objects.get(lead=lead)
        expected = _engine_score_at(lead, later)
        assert (row.score, row.breakdown, row.as_of) == (
            expected.score,
            breakdown_json(expected),
            later,
        )
        assert row.next_change_at is not None
        assert later < row.next_change_at
    # each moved at least 1.00 since its last point: a history point each
    assert set(ScoreHistory.objects.filter(cause="time").values_list("lead_id", "score")) == {
        (falling.pk, Decimal("38.19")),
        (rising.pk, Decimal("-10.00")),
    }
    # only the rising lead is handed to qualification: a falling one cannot newly pass
    assert list(QualifyQueue.objects.values_list("lead_id", flat=True)) == [rising.pk]
    assert len(callbacks) == 1  # the qualification task, kicked after commit


def test_hour_after_hour_the_refresh_keeps_every_score_equal_to_the_engines():
    """Chained as the hourly job chains it (each pass starts from the sums the one before
    wrote as text): after every pass each lead's stored score and breakdown equal the
    engine's on its events at that moment, and the set-based pass answered for every due
    lead that nothing but fading changes."""
    now = timezone.now()
    for data in (
        {"name": "Seminar", "kind": "behavior", "event": "Seminar Attended", "points": 30,
         "half_life_days": 30},
        {"name": "Web visit", "kind": "behavior", "event": "page", "points": 1, "max_times": 3,
         "half_life_days": 3},
        {"name": "Whitepaper", "kind": "behavior", "event": "Document Downloaded",
         "points": 20, "max_times": 3, "half_life_days": 0.5},
        {"name": "Show", "kind": "behavior", "event": "Trade Show Visited", "points": 15},
        {"name": "Unsubscribed", "kind": "behavior", "event": "Unsubscribed", "points": -7,
         "half_life_days": 1},
    ):  # fmt: skip
        rule_create(data=data)
    ago = lambda days: now - timedelta(days=days)  # noqa: E731
    leads = [
        _lead_with("a@example.com", ("Seminar Attended", ago(3)), ("Trade Show Visited", ago(9))),
        _lead_with("b@example.com", *(("Document Downloaded", ago(d)) for d in (0.1, 0.4, 2, 5))),
        _lead_with("c@example.com", ("Unsubscribed", ago(0.2)), ("Seminar Attended", ago(40))),
        _lead_with("d@example.com", ("Seminar Attended", now + timedelta(hours=5))),
    ]
    for lead, days in ((leads[0], (0.5, 1.5)), (leads[1], (0.1, 0.2, 0.3, 0.9))):
        for day in days:
            Event.objects.create(message_id=str(uuid.uuid4()), lead=lead, type="page",
                                 timestamp=ago(day), received_at=ago(day))  # fmt: skip
    leads_score([lead.pk for lead in leads], now=now)
    ScoreQueue.objects.all().delete()
    version, rules = rules_live()
    answered = 0
    moments = [now + timedelta(hours=h) for h in range(1, 31)] + [now + timedelta(days=4)]
    for moment in moments:
        due = list(
            LeadScore.objects.filter(next_change_at__lte=moment).values_list(
                "lead_id", "discrete_at"
            )
        )
        fading_only = {pk for pk, discrete in due if discrete is None or discrete > moment}
        done = set(refaded_rows([pk for pk, _ in due], rules, version=version, now=moment))
        assert done == fading_only, moment
        answered += len(done)
        scores_refresh_due(now=moment)
        for lead in leads:
            row = LeadScore.objects.get(lead=lead)
            expected = _engine_score_at(lead, moment)
            assert (row.score, row.breakdown) == (expected.score, breakdown_json(expected)), (
                lead.email, moment,
            )  # fmt: skip
    assert answered > 40  # the set-based pass did most of the work, not the engine's path
