"""Recycle: epoch moves, back to nurturing on its date, re-qualifies only on new activity."""

from datetime import timedelta

import pytest
from django.utils import timezone

from handoff.models import Assignment, LeadView, Qualification, StageTransition, WebhookDelivery
from handoff.services import leads_qualify_eligible, leads_reapproach_due, policy_update
from handoff.webhooks import webhook_create
from scoring.services import rule_create
from tests.conftest import client_for

from .conftest import score_all, track

pytestmark = pytest.mark.django_db


@pytest.fixture
def recycled(ingest, make_user, rules, private_hosts, receiver, django_capture_on_commit_callbacks):
    """A lead qualified by three downloads, accepted, then recycled for ten days."""
    rep = make_user("sales")
    webhook_create(data={"url": receiver.url, "events": ["lead.mql", "lead.recycled"]})
    ingest("/v1/batch", {"batch": track("a@example.co.jp", "Document Downloaded", 3)})
    score_all()
    lead = LeadView.objects.get()
    assert (lead.stage, lead.cycle, lead.owner_id) == ("mql", 1, rep.pk)
    client = client_for(rep)
    assert client.post(f"/api/handoff/leads/{lead.pk}/accept/").status_code == 200
    day = timezone.localdate() + timedelta(days=10)
    response = client.post(
        f"/api/handoff/leads/{lead.pk}/recycle/",
        {"reason": "bad_timing", "note": "budget next FY", "reapproach_on": day.isoformat()},
        format="json",
    )
    assert response.status_code == 200
    score_all()
    return LeadView.objects.get(), rep, day


def test_recycle_moves_the_epoch_and_rescores_from_it(recycled):
    lead, _, day = recycled
    assert lead.stage == "recycled"
    assert lead.reapproach_on == day
    assert lead.score_epoch is not None
    assert (lead.score, lead.engagement) == (0, 0)  # the three old downloads stopped counting
    row = StageTransition.objects.last()
    assert (row.from_stage, row.to_stage, row.reason, row.note, row.score) == (
        "sal",
        "recycled",
        "bad_timing",
        "budget next FY",
        60,
    )


def test_back_to_nurturing_only_on_its_date_and_listed_for_marketing(recycled, make_user):
    lead, _, day = recycled
    assert leads_reapproach_due(now=timezone.now()) == 0
    assert leads_reapproach_due(now=timezone.now() + timedelta(days=9)) == 0
    assert LeadView.objects.get().stage == "recycled"
    marketer = client_for(make_user("marketer"))
    assert marketer.get("/api/handoff/reapproach/").json() == []
    on_the_day = timezone.now() + timedelta(days=10)
    assert timezone.localtime(on_the_day).date() == day
    assert leads_reapproach_due(now=on_the_day) == 1
    assert leads_reapproach_due(now=on_the_day) == 0  # idempotent
    assert LeadView.objects.get().stage == "nurturing"
    listed = marketer.get("/api/handoff/reapproach/").json()
    assert [(item["id"], item["reapproach_on"]) for item in listed] == [(lead.pk, day.isoformat())]
    last = StageTransition.objects.last()
    assert (last.from_stage, last.to_stage, last.reason, last.by) == (
        "recycled",
        "nurturing",
        "reapproach",
        None,
    )


def test_old_activity_does_not_requalify_new_activity_does(recycled, ingest):
    lead, rep, _ = recycled
    leads_reapproach_due(now=timezone.now() + timedelta(days=10))
    score_all()
    # late arrivals of activity from before the recycle
    before = (lead.score_epoch - timedelta(days=1)).isoformat()
    ingest(
        "/v1/batch",
        {"batch": track("a@example.co.jp", "Document Downloaded", 4, timestamp=before)},
    )
    score_all()
    lead.refresh_from_db()
    assert (lead.stage, lead.score, lead.cycle) == ("nurturing", 0, 1)
    # new activity: a second cycle with its own qualification, assignment and webhook
    ingest("/v1/batch", {"batch": track("a@example.co.jp", "Document Downloaded", 3)})
    score_all()
    lead.refresh_from_db()
    assert (lead.stage, lead.score, lead.cycle) == ("mql", 60, 2)
    assert list(Qualification.objects.values_list("cycle", "score", "reason")) == [
        (1, 60, "threshold"),
        (2, 60, "threshold"),
    ]
    assert list(Assignment.objects.values_list("cycle", "user", "why")) == [
        (1, rep.pk, "round_robin"),
        (2, rep.pk, "round_robin"),
    ]
    assert list(WebhookDelivery.objects.order_by("id").values_list("event_type", flat=True)) == [
        "lead.mql",
        "lead.recycled",
        "lead.mql",
    ]
    # (by id: this test moved the clock ten days ahead for the re-approach only)
    history = [(h.from_stage, h.to_stage, h.cycle) for h in StageTransition.objects.order_by("id")]
    assert history == [
        ("nurturing", "mql", 1),
        ("mql", "sal", 1),
        ("sal", "recycled", 1),
        ("recycled", "nurturing", 1),
        ("nurturing", "mql", 2),
    ]


def test_a_fast_track_event_while_recycled_waits_for_the_date(recycled, ingest):
    lead, _, _ = recycled
    ingest("/v1/batch", {"batch": track("a@example.co.jp", "Demo Requested")})
    score_all()
    assert LeadView.objects.get().stage == "recycled"
    leads_reapproach_due(now=timezone.now() + timedelta(days=10))
    score_all()
    lead.refresh_from_db()
    assert (lead.stage, lead.cycle) == ("mql", 2)
    assert Qualification.objects.get(cycle=2).reason == "fast_track"


def test_fit_alone_does_not_bring_a_recycled_lead_back(recycled):
    lead, _, _ = recycled
    rule_create(
        data={
            "name": "Big company",
            "kind": "fit",
            "conditions": [{"field": "email_domain", "op": "eq", "value": "example.co.jp"}],
            "points": 100,
        }
    )
    score_all()
    leads_reapproach_due(now=timezone.now() + timedelta(days=10))
    score_all()
    lead.refresh_from_db()
    assert (lead.stage, lead.fit, lead.score) == ("nurturing", 100, 100)
    policy_update(data={"mql_threshold": 50})
    assert leads_qualify_eligible() == 0
    assert LeadView.objects.get().stage == "nurturing"
