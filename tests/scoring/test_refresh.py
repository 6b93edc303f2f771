"""The time-driven refresh visits only leads whose score can change by now (their stored
`next_change_at`, engine.next_change), on real PostgreSQL: long-expired and far-faded leads
are not re-evaluated, due expiries and inactivity deadlines are, and rule changes and new
leads set the moment for every lead."""

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from mqlapp.leads.models import Event, Lead
from scoring import engine
from scoring.models import LeadScore, RescoreJob, RescoreResult, ScoringRule
from scoring.services import (
    events_load,
    lead_epoch_move,
    lead_facts,
    leads_score,
    leads_score_enqueue,
    leads_score_pending,
    rescore_finish,
    rescore_start,
    rescore_step,
    rule_create,
    rule_update,
    rules_live,
    scores_refresh,
    scores_refresh_due,
)
from scoring.services.loader import leads_for_facts
from tests.factories import lead_make

pytestmark = pytest.mark.django_db


def _lead_with(email, *events):
    lead = lead_make(email=email)
    for name, at in events:
        Event.objects.create(
            message_id=str(uuid.uuid4()), lead=lead, type="track", name=name, timestamp=at,
            received_at=at,
        )  # fmt: skip
    leads_score_enqueue([lead.pk])
    return lead


def _row(lead):
    return LeadScore.objects.get(lead=lead)


@pytest.fixture
def time_rules():
    rule_create(data={"name": "Demo", "kind": "behavior", "event": "Demo Requested",
                      "points": 10, "expire_after_days": 7})  # fmt: skip
    rule_create(data={"name": "Seminar", "kind": "behavior", "event": "Seminar Attended",
                      "points": 40, "half_life_days": 1})  # fmt: skip
    rule_create(data={"name": "Silence", "kind": "inactivity", "after_event": "Trial Started",
                      "inactive_days": 1, "points": -5})  # fmt: skip


def test_the_refresh_visits_only_leads_whose_next_change_has_come(time_rules):
    now = timezone.now()
    expired = _lead_with("expired@example.com", ("Demo Requested", now - timedelta(days=100)))
    faded = _lead_with("faded@example.com", ("Seminar Attended", now - timedelta(days=100)))
    almost_a_week = now - timedelta(days=6, hours=23)
    expiring = _lead_with("expiring@example.com", ("Demo Requested", almost_a_week))
    waiting = _lead_with("waiting@example.com", ("Trial Started", now - timedelta(hours=23)))
    quiet = lead_make(email="quiet@example.com")  # no events at all
    leads = [expired, faded, expiring, waiting, quiet]
    leads_score([lead.pk for lead in leads], now=now)

    # every score row knows when it can next change by time alone
    assert _row(expired).next_change_at is None  # expired for good
    assert _row(quiet).next_change_at is None
    # 40 · 2^-100 rounds to 0.00 but counts until its weight underflows, 1074 half-lives on
    assert _row(faded).next_change_at == now - timedelta(days=100) + timedelta(days=1074)
    assert _row(expiring).next_change_at == almost_a_week + timedelta(days=7)
    assert _row(waiting).next_change_at == now + timedelta(hours=1)
    assert [_row(lead).score for lead in (expiring, waiting)] == [Decimal("10.00"), 0]

    # three hours on: only the expiry and the inactivity deadline are due
    later = now + timedelta(hours=3)
    assert scores_refresh_due(now=later, batch=1) == (2, 2)  # one lead a batch

    assert [_row(lead).score for lead in (expiring, waiting)] == [0, Decimal("-5.00")]
    assert [_row(lead).as_of for lead in (expiring, waiting)] == [later, later]
    assert [_row(lead).as_of for lead in (expired, faded, quiet)] == [now, now, now]
    # both have nothing left to change by time; the next pass visits nobody
    assert [_row(lead).next_change_at for lead in (expiring, waiting)] == [None, None]
    assert scores_refresh_due(now=later + timedelta(hours=1)) == (0, 0)


def test_a_fading_score_is_visited_when_its_rounded_points_move_and_stores_the_next_moment(
    time_rules,
):
    now = timezone.now()
    fading = _lead_with("fading@example.com", ("Seminar Attended", now))
    leads_score([fading.pk], now=now)
    first = _row(fading).next_change_at
    assert now < first < now + timedelta(minutes=1)  # 40 · 2^-d < 39.995 after ~15.6 s

    assert scores_refresh_due(now=first - timedelta(milliseconds=1)) == (0, 0)
    assert scores_refresh_due(now=now + timedelta(hours=1)) == (1, 1)
    row = _row(fading)
    assert row.score == Decimal("38.86")  # 40 · 0.5^(1/24)
    assert now + timedelta(hours=1) < row.next_change_at < now + timedelta(hours=1, minutes=1)


def test_a_row_still_visited_when_a_score_moves_nowhere_but_its_moment_came(time_rules):
    now = timezone.now()
    lead = _lead_with("steady@example.com", ("Demo Requested", now - timedelta(days=1)))
    leads_score([lead.pk], now=now)
    LeadScore.objects.filter(lead=lead).update(next_change_at=now)  # written by an older path

    assert scores_refresh_due(now=now + timedelta(minutes=1)) == (1, 0)
    assert _row(lead).next_change_at == now - timedelta(days=1) + timedelta(days=7)


def test_leads_due_at_the_same_moment_are_each_visited_once_across_batches(time_rules):
    now = timezone.now()
    at = now - timedelta(days=6, hours=23)  # all expire at one moment, an hour from now
    tied = [_lead_with(f"tie{i}@example.com", ("Demo Requested", at)) for i in range(5)]
    later = _lead_with("later@example.com", ("Demo Requested", at + timedelta(minutes=30)))
    leads_score([lead.pk for lead in [*tied, later]], now=now)

    assert scores_refresh_due(now=now + timedelta(hours=2), batch=2) == (6, 6)
    assert [_row(lead).score for lead in [*tied, later]] == [0] * 6


def test_new_score_rows_are_due_at_the_next_refresh():
    before = timezone.now()
    lead = lead_make(email="new@example.com")

    due = _row(lead).next_change_at
    assert due is not None
    assert due >= before - timedelta(seconds=5)


def test_a_rule_change_sets_every_leads_next_change(time_rules):
    now = timezone.now()
    leads = [
        _lead_with(f"l{i}@example.com", ("Webinar Joined", now - timedelta(days=i)))
        for i in range(1, 4)
    ]
    leads_score([lead.pk for lead in leads], now=now)
    assert [_row(lead).next_change_at for lead in leads] == [None] * 3  # no rule reads them

    webinar = rule_create(data={"name": "Webinar", "kind": "behavior", "event": "Webinar Joined",
                                "points": 20, "expire_after_days": 2})  # fmt: skip
    # the inline re-score swapped in each lead's score and its next change under the new rules
    assert [_row(lead).score for lead in leads] == [Decimal("20.00"), 0, 0]
    assert _row(leads[0]).next_change_at == now - timedelta(days=1) + timedelta(days=2)
    assert [_row(lead).next_change_at for lead in leads[1:]] == [None, None]

    assert scores_refresh_due(now=now + timedelta(days=1, hours=1)) == (1, 1)
    assert _row(leads[0]).score == 0

    rule_update(webinar, data={"expire_after_days": 5})
    assert [_row(lead).next_change_at for lead in leads] == [
        now - timedelta(days=i) + timedelta(days=5) for i in range(1, 4)
    ]


def test_rules_that_never_change_with_time_visit_nobody():
    now = timezone.now()
    rule_create(data={"name": "Demo", "kind": "behavior", "event": "Demo Requested",
                      "points": 10})  # fmt: skip
    lead = _lead_with("plain@example.com", ("Demo Requested", now))
    leads_score([lead.pk], now=now)

    assert scores_refresh_due(now=now + timedelta(days=30)) == (0, 0)
    assert scores_refresh() == 0


def test_scores_built_during_a_rescore_carry_their_next_change_into_the_swap(
    background_rescore,
):
    now = timezone.now()
    at = now - timedelta(days=1)
    built = _lead_with("built@example.com", ("Webinar Joined", at))
    live = _lead_with("live@example.com", ("Webinar Joined", at))
    leads_score([built.pk, live.pk], now=now)
    rule_create(data={"name": "Webinar", "kind": "behavior", "event": "Webinar Joined",
                      "points": 20, "expire_after_days": 2})  # fmt: skip
    job = RescoreJob.objects.latest("pk")
    assert rescore_start(job.pk, now=now)

    leads_score([live.pk], now=now)  # live scoring writes the job's result too
    result = RescoreResult.objects.get(job=job, lead_id=live.pk)
    assert result.next_change_at == at + timedelta(days=2)
    while rescore_step(job.pk, now=now):
        pass
    assert rescore_finish(job.pk, now=now)

    assert [_row(lead).next_change_at for lead in (built, live)] == [at + timedelta(days=2)] * 2


# --- the fast path: fading scores moved forward without reading their events --------------


def _engine_score_at(lead, at):
    """The engine's score of `lead` at `at` from its stored events (what a full visit gives)."""
    rules = rules_live()[1]
    events = events_load([lead.pk], plan=engine.needs(rules), fast=False)
    (row,) = leads_for_facts(Lead.objects.filter(pk=lead.pk))
    return engine.evaluate(lead_facts(row, events.get(lead.pk, ())), rules, now=at)


def test_the_refresh_moves_fading_scores_forward_from_their_sums_without_the_events(
    time_rules,
):
    now = timezone.now()
    seminar = _lead_with(
        "seminar@example.com",
        ("Seminar Attended", now - timedelta(hours=5)),
        ("Seminar Attended", now - timedelta(days=2)),
    )
    both = _lead_with(
        "both@example.com",
        ("Seminar Attended", now - timedelta(hours=1)),
        ("Demo Requested", now - timedelta(days=1)),  # expires in 6 days: not yet due
    )
    while leads_score_pending(limit=100):  # scored as the workers do: the queue is drained
        pass
    for lead in (seminar, both):
        assert _row(lead).fades  # the sums of the fading rule, stored with the score
    later = now + timedelta(hours=7)
    expected = {lead.pk: _engine_score_at(lead, later) for lead in (seminar, both)}

    # the events are gone from the table: only the stored sums can give the faded scores
    Event.objects.filter(lead__in=[seminar, both]).delete()
    scores_refresh_due(now=later)

    for lead in (seminar, both):
        row = _row(lead)
        assert (row.score, row.engagement, row.fit) == (
            expected[lead.pk].score, expected[lead.pk].engagement, expected[lead.pk].fit,
        )  # fmt: skip
        assert [c["points"] for c in row.breakdown] == [
            float(c.points) for c in expected[lead.pk].breakdown
        ]
        assert row.as_of == later
        assert row.next_change_at > later


def test_a_lead_waiting_to_be_scored_or_recycled_is_evaluated_from_its_events(time_rules):
    now = timezone.now()
    queued = _lead_with("queued@example.com", ("Seminar Attended", now - timedelta(hours=5)))
    moved = _lead_with("moved@example.com", ("Seminar Attended", now - timedelta(hours=5)))
    while leads_score_pending(limit=100):
        pass
    leads_score_enqueue([queued.pk])  # new events came: the sums are not the lead's any more
    lead_epoch_move(moved.pk, at=now)  # a recycle: events before now no longer count
    assert _row(moved).fades is None
    Event.objects.filter(lead__in=[queued, moved]).delete()

    scores_refresh_due(now=now + timedelta(hours=7))

    # both read their (now deleted) events: nothing left to count
    assert _row(queued).score == Decimal(0)
    assert _row(moved).score == Decimal(0)


def test_a_rule_change_swaps_in_the_sums_the_refresh_moves_forward(time_rules, settings):
    settings.SCORING_RESCORE_INLINE_MAX = 0
    now = timezone.now()
    lead = _lead_with("rescored@example.com", ("Seminar Attended", now - timedelta(hours=3)))
    while leads_score_pending(limit=100):
        pass
    rule_update(ScoringRule.objects.get(name="Seminar"), data={"points": 60})
    job = RescoreJob.objects.order_by("-id").first()
    assert rescore_start(job.pk, now=now)
    while rescore_step(job.pk, now=now):
        pass
    assert rescore_finish(job.pk, now=now)
    assert _row(lead).fades  # the job's sums came with its score
    later = now + timedelta(hours=5)
    expected = _engine_score_at(lead, later)
    Event.objects.filter(lead=lead).delete()

    scores_refresh_due(now=later)

    assert _row(lead).score == expected.score > 0
