"""Live scoring through ingestion and the pipeline: exact values, determinism, time, history."""

import random
import uuid
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from handoff.lifecycle import Stage
from handoff.models import LeadView, Qualification
from handoff.services import policy_update
from mqlapp.leads.models import Event, InboxBatch
from mqlapp.leads.services import lead_create, lead_update
from scoring.models import LeadScore, ScoreHistory, ScoreQueue, ScoringState
from scoring.services import (
    leads_refresh,
    leads_score,
    leads_score_enqueue,
    leads_score_pending,
    rule_create,
    scores_refresh,
)
from tests import pipeline
from tests.factories import lead_make

from .conftest import (
    MIXED_ENGAGEMENT,
    MIXED_FIT,
    MIXED_RULES,
    MIXED_SCORE,
    expected_breakdown,
    mixed_activity,
    score_all,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def mixed_rules():
    return {rule["name"]: rule_create(data=rule).pk for rule in MIXED_RULES}


def test_score_through_the_api_equals_the_hand_computed_value(ingest, api, mixed_rules):
    # given the seed article's rules and a lead with 15 events over 60 days
    ingest("/v1/batch", {"batch": mixed_activity("hanako@example.co.jp", timezone.now())})

    # when the pipeline scores it
    score_all()

    # then the answer is the hand-computed score, and its breakdown adds up to it
    lead = LeadView.objects.get(email="hanako@example.co.jp")
    body = api("sales").get(f"/api/leads/{lead.pk}/score/").json()
    assert (body["score"], body["engagement"], body["fit"]) == (
        MIXED_SCORE,
        MIXED_ENGAGEMENT,
        MIXED_FIT,
    )
    assert body["breakdown"] == expected_breakdown(mixed_rules)
    assert sum(Decimal(str(item["points"])) for item in body["breakdown"]) == Decimal("75")
    assert body["as_of"] is not None


def test_the_score_answer_reads_one_row_and_a_missing_lead_is_404(
    ingest, api, mixed_rules, django_assert_max_num_queries
):
    # given a scored lead, and the hourly refresh marked after its last evaluation
    ingest("/v1/batch", {"batch": mixed_activity("ren@example.co.jp", timezone.now())})
    score_all()
    lead = LeadView.objects.get(email="ren@example.co.jp")
    refreshed = LeadScore.objects.get(lead=lead).as_of + timedelta(minutes=5)
    ScoringState.objects.filter(pk=1).update(refreshed_at=refreshed)
    client = api("sales")
    client.get("/api/leads/0/score/")  # the token and role are read on every request

    # when it is polled (a dashboard, the bench's probe): the token, the role, one row
    with django_assert_max_num_queries(3):
        body = client.get(f"/api/leads/{lead.pk}/score/").json()

    # then the stored score, as of the refresh
    assert (body["score"], body["fit"]) == (MIXED_SCORE, MIXED_FIT)
    assert datetime.fromisoformat(body["as_of"].replace("Z", "+00:00")) == refreshed
    missing = client.get(f"/api/leads/{lead.pk + 10_000}/score/")
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"


def test_arrival_order_retries_and_replays_never_change_the_score(ingest, mixed_rules):
    now = timezone.now()
    in_order = mixed_activity("a@example.co.jp", now)
    ingest("/v1/batch", {"batch": in_order})
    # the same activity for b, shuffled, split in three requests, with every message resent
    shuffled = [dict(m, userId="b@example.co.jp") for m in mixed_activity("b@example.co.jp", now)]
    identify, events = shuffled[0], shuffled[1:]
    random.Random(3).shuffle(events)
    ingest("/v1/batch", {"batch": events[:5]})
    score_all()
    ingest("/v1/batch", {"batch": [identify, *events[5:10]]})
    ingest("/v1/batch", {"batch": events[10:] + events[:7]})
    score_all()
    ingest("/v1/batch", {"batch": events})
    score_all()

    a, b = (
        LeadView.objects.get(email="a@example.co.jp"),
        LeadView.objects.get(email="b@example.co.jp"),
    )
    assert (a.score, b.score) == (Decimal("75.00"), Decimal("75.00"))
    assert LeadScore.objects.get(lead=a).breakdown == LeadScore.objects.get(lead=b).breakdown


def test_breakdown_and_history_cover_a_negative_rule(ingest, api):
    rule_create(data={"name": "Download", "kind": "behavior", "event": "Download", "points": 20})
    rule_create(data={"name": "Unsubscribed", "kind": "behavior", "event": "Unsubscribed",
                      "points": -30})  # fmt: skip
    email = "neg@example.co.jp"
    track = {"type": "track", "userId": email, "context": {"traits": {"email": email}}}
    ingest("/v1/batch", {"batch": [dict(track, event="Download", messageId="d1")]})
    score_all()
    ingest("/v1/batch", {"batch": [dict(track, event="Unsubscribed", messageId="u1")]})
    score_all()

    lead = LeadView.objects.get(email=email)
    client = api("marketer")
    body = client.get(f"/api/leads/{lead.pk}/score/").json()
    assert [(b["rule"], b["count"], b["points"]) for b in body["breakdown"]] == [
        ("Download", 1, 20.0),
        ("Unsubscribed", 1, -30.0),
    ]
    assert body["score"] == -10.0
    history = client.get(f"/api/leads/{lead.pk}/score/history/").json()
    assert [(h["score"], h["cause"]) for h in history] == [(20.0, "event"), (-10.0, "event")]
    assert client.get(f"/api/leads/{lead.pk}/score/history/?limit=1").json()[0]["score"] == -10.0
    assert client.get(f"/api/leads/{lead.pk}/score/history/?limit=0").status_code == 400
    bad = client.get(f"/api/leads/{lead.pk}/score/history/?since=yesterday")
    assert bad.status_code == 400
    assert bad.json()["fields"] == {
        "since": ["since must be an ISO 8601 time with a zone, e.g. 2025-06-01T00:00:00+09:00"]
    }


def test_fit_rules_reapply_when_the_lead_data_changes():
    rule_create(data={"name": "Japan", "kind": "fit", "points": 15,
                      "conditions": [{"field": "country", "op": "eq", "value": "jp"}]})  # fmt: skip
    lead = lead_create(data={"email": "fit@example.com", "country": "US"})
    score_all()
    assert LeadView.objects.get(pk=lead.pk).fit == 0

    lead_update(lead, data={"country": "JP"})
    score_all()

    lead = LeadView.objects.get(pk=lead.pk)
    assert (lead.fit, lead.score, lead.engagement) == (Decimal(15), Decimal(15), Decimal(0))


def _lead_with(email, *events):
    lead = lead_make(email=email)
    for name, at in events:
        Event.objects.create(
            message_id=str(uuid.uuid4()), lead=lead, type="track", name=name, timestamp=at,
            received_at=at,
        )  # fmt: skip
    leads_score_enqueue([lead.pk])
    return lead


def test_fading_and_inactivity_apply_without_new_events():
    now = timezone.now()
    rule_create(data={"name": "Seminar", "kind": "behavior", "event": "Seminar Attended",
                      "points": 40, "half_life_days": 30})  # fmt: skip
    rule_create(data={"name": "Silence", "kind": "inactivity", "after_event": "Seminar Attended",
                      "inactive_days": 14, "points": -10})  # fmt: skip
    lead = _lead_with("fade@example.com", ("Seminar Attended", now - timedelta(days=10)))
    leads_score([lead.pk], now=now)
    assert LeadView.objects.get(pk=lead.pk).score == Decimal("31.75")  # 40 × 0.5^(10/30)

    # 50 days later, with no new event: 40 × 0.5^(60/30) = 10, and the silence penalty
    later = now + timedelta(days=50)
    changed = leads_refresh([lead.pk], now=later)

    lead.refresh_from_db()
    assert (changed[lead.pk], lead.score) == (Decimal("0.00"), Decimal("0.00"))
    points = list(ScoreHistory.objects.filter(lead=lead).values_list("score", "cause"))
    assert points == [(Decimal("31.75"), "event"), (Decimal("0.00"), "time")]


def test_time_driven_changes_add_history_points_only_per_point_or_per_day():
    now = timezone.now()
    rule_create(data={"name": "Seminar", "kind": "behavior", "event": "Seminar Attended",
                      "points": 40, "half_life_days": 30})  # fmt: skip
    lead = _lead_with("hist@example.com", ("Seminar Attended", now))
    leads_score([lead.pk], now=now)  # 40.00, a point (event)

    for hours in range(1, 7):  # six hourly refreshes: 40 → 39.77, each step under a point
        leads_refresh([lead.pk], now=now + timedelta(hours=hours))
    assert LeadView.objects.get(pk=lead.pk).score == Decimal("39.77")
    assert ScoreHistory.objects.filter(lead=lead).count() == 1

    leads_refresh([lead.pk], now=now + timedelta(hours=24))  # 39.09: a day since the last point
    leads_refresh([lead.pk], now=now + timedelta(hours=25))  # 39.05: no point
    leads_refresh([lead.pk], now=now + timedelta(days=3))  # 37.32: moved 1.77 ≥ 1
    scores = list(ScoreHistory.objects.filter(lead=lead).order_by("at").values_list("score"))
    assert scores == [(Decimal("40.00"),), (Decimal("39.09"),), (Decimal("37.32"),)]
    assert LeadView.objects.get(pk=lead.pk).score == Decimal("37.32")


def test_hourly_refresh_rewrites_a_score_row_only_when_it_moved_or_is_stale():
    now = timezone.now()
    rule_create(data={"name": "Seminar", "kind": "behavior", "event": "Seminar Attended",
                      "points": 40, "half_life_days": 30})  # fmt: skip
    rule_create(data={"name": "Show", "kind": "behavior", "event": "Trade Show Visited",
                      "points": 15})  # fmt: skip
    fading = _lead_with("fading@example.com", ("Seminar Attended", now))
    steady = _lead_with("steady@example.com", ("Trade Show Visited", now))
    leads_score([fading.pk, steady.pk], now=now)
    row = LeadScore.objects.get(lead=steady)
    kept = (row.score, row.breakdown, row.rules_version, row.as_of)

    # an hour later only the fading score moved: the steady row is not written
    changed = leads_refresh([fading.pk, steady.pk], now=now + timedelta(hours=1))
    row.refresh_from_db()
    assert set(changed) == {fading.pk}
    assert (row.score, row.breakdown, row.rules_version, row.as_of) == kept

    # a stored breakdown that differs from the score's (same score) is rewritten
    LeadScore.objects.filter(lead=steady).update(breakdown=[])
    leads_refresh([steady.pk], now=now + timedelta(hours=2))
    row.refresh_from_db()
    assert (row.score, row.breakdown, row.as_of) == (kept[0], kept[1], now + timedelta(hours=2))

    # and so is a row scored under another rules version
    LeadScore.objects.filter(lead=steady).update(rules_version=kept[2] + 7)
    leads_refresh([steady.pk], now=now + timedelta(hours=3))
    row.refresh_from_db()
    assert (row.rules_version, row.as_of) == (kept[2], now + timedelta(hours=3))
    assert ScoreHistory.objects.filter(lead=steady).count() == 1  # none of that moved it


def test_hourly_refresh_qualifies_a_lead_that_crosses_by_time_and_never_demotes(
    django_capture_on_commit_callbacks,
):
    now = timezone.now()
    policy_update(data={"mql_threshold": 20})
    # a penalty that expires lifts the score over the threshold as time passes
    rule_create(data={"name": "Demo", "kind": "behavior", "event": "Demo Viewed", "points": 30})
    rule_create(data={"name": "Competitor visit", "kind": "behavior", "event": "Competitor",
                      "points": -15, "expire_after_days": 1})  # fmt: skip
    rule_create(data={"name": "Seminar", "kind": "behavior", "event": "Seminar Attended",
                      "points": 40, "half_life_days": 1})  # fmt: skip
    rising = _lead_with("rise@example.com", ("Demo Viewed", now - timedelta(hours=23)),
                        ("Competitor", now - timedelta(hours=23)))  # fmt: skip
    falling = _lead_with("fall@example.com", ("Seminar Attended", now))
    with django_capture_on_commit_callbacks(execute=True):
        score_all()
    assert LeadView.objects.get(pk=rising.pk).stage == Stage.NURTURING  # 30 - 15 = 15
    assert LeadView.objects.get(pk=falling.pk).stage == Stage.MQL  # 40

    scores_refresh()  # the hourly job, now: nothing has expired yet
    assert LeadView.objects.get(pk=rising.pk).stage == Stage.NURTURING
    assert ScoringState.objects.get().refreshed_at is not None

    later = now + timedelta(days=2)  # the penalty expired; the seminar faded to a quarter
    with django_capture_on_commit_callbacks(execute=True):
        moved = leads_refresh([rising.pk, falling.pk], now=later)
        pipeline.leads_qualify(moved, now=later)

    rising.refresh_from_db()
    falling.refresh_from_db()
    assert (rising.score, rising.stage) == (Decimal("30.00"), Stage.MQL)
    assert (falling.score, falling.stage) == (Decimal("10.00"), Stage.MQL)  # never demoted
    assert Qualification.objects.filter(lead=rising).count() == 1


def test_min_fit_is_honoured():
    policy_update(data={"mql_threshold": 30, "min_fit": 10})
    rule_create(data={"name": "Demo", "kind": "behavior", "event": "Demo Viewed", "points": 40})
    big_company = [{"field": "employees", "op": "gte", "value": 100}]
    rule_create(data={"name": "Big", "kind": "fit", "points": 10, "conditions": big_company})
    now = timezone.now()
    small = _lead_with("small@example.com", ("Demo Viewed", now))
    big = _lead_with("big@example.com", ("Demo Viewed", now))
    LeadView.objects.filter(pk=big.pk).update(employees=500)
    score_all()

    assert LeadView.objects.get(pk=small.pk).stage == Stage.NURTURING  # 40 ≥ 30 but fit 0 < 10
    assert LeadView.objects.get(pk=big.pk).stage == Stage.MQL  # 50, fit 10


def test_a_back_fill_lead_is_scored_once_the_inbox_is_expanded(settings, source):
    """While large batches wait in the inbox, a lead a back-fill queued waits
    (SCORING_BULK_SETTLE_SECONDS) so that its later batches are scored with it; once no row is
    left to expand, at once. A live lead never waits; a row set aside after a failure does
    not hold anyone back."""
    settings.SCORING_BULK_SETTLE_SECONDS = 60
    back_fill, live = lead_make().pk, lead_make().pk
    score_all()
    LeadScore.objects.update(as_of=None)
    waiting = InboxBatch.objects.create(
        source=source, received_at=timezone.now(), count=0, messages=b"[]"
    )
    leads_score_enqueue([back_fill], bulk=True)
    leads_score_enqueue([live])

    assert leads_score_pending(limit=10) == 1  # the live lead only
    assert list(ScoreQueue.objects.values_list("lead_id", flat=True)) == [back_fill]

    waiting.not_before = timezone.now() + timedelta(hours=1)  # set aside: no longer waiting
    waiting.save()
    assert leads_score_pending(limit=10) == 1
    assert not ScoreQueue.objects.exists()
    assert LeadScore.objects.get(lead_id=back_fill).as_of is not None
