"""Scoring on PostgreSQL + Redis + a real 2-process Celery worker."""

import uuid
from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from handoff.models import LeadView, Qualification
from handoff.services import policy_update
from mqlapp.leads import hooks
from mqlapp.leads.models import Event, Lead
from scoring.models import RescoreJob, ScoreQueue, ScoringState
from scoring.services import leads_score_enqueue, rule_create
from tests.conftest import basic, client_for, requires_services, wait_for

from .conftest import MIXED_RULES, MIXED_SCORE, expected_breakdown, mixed_activity

pytestmark = [
    requires_services,
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
]
LEADS = 1200


def test_score_through_the_api_equals_the_hand_computed_value(
    celery_worker_process, source, make_user
):
    ids = {rule["name"]: rule_create(data=rule).pk for rule in MIXED_RULES}
    email = f"mixed-{uuid.uuid4().hex[:6]}@example.co.jp"

    response = APIClient().post(
        "/v1/batch",
        {"batch": mixed_activity(email, timezone.now())},
        format="json",
        HTTP_AUTHORIZATION=basic(source.write_key),
    )
    assert response.status_code == 200

    lead = wait_for(
        lambda: LeadView.objects.filter(email=email, scoring__score=Decimal("75")).first()
    )
    body = client_for(make_user("sales")).get(f"/api/leads/{lead.pk}/score/").json()
    assert body["score"] == MIXED_SCORE
    assert body["breakdown"] == expected_breakdown(ids)
    # the 60-day-old seminar under a 30-day half-life counts a quarter of its 40 points
    seminar = next(item for item in body["breakdown"] if item["rule"] == "Seminar attended")
    assert (seminar["count"], seminar["points"]) == (1, 10.0)


def _bulk_leads(count):
    """`count` leads with 1, 2 or 3 Email Opened events (by index), queued for scoring."""
    now = timezone.now()
    tag = uuid.uuid4().hex[:6]
    leads = Lead.objects.bulk_create(
        [Lead(email=f"bulk{i}-{tag}@example.com") for i in range(count)], batch_size=500
    )
    hooks.leads_created(lead.pk for lead in leads)
    Event.objects.bulk_create(
        (Event(message_id=f"{tag}-{lead.pk}-{k}", lead=lead, type="track", name="Email Opened",
               timestamp=now - timedelta(hours=k + 1), received_at=now)
         for i, lead in enumerate(leads) for k in range(i % 3 + 1)),
        batch_size=1000,
    )  # fmt: skip
    leads_score_enqueue([lead.pk for lead in leads])  # autocommit: the worker is kicked
    return leads


def _score_counts():
    return Counter(LeadView.objects.values_list("scoring__score", flat=True))


def test_a_rule_edit_rescores_every_lead_and_the_list_never_mixes(celery_worker_process, make_user):
    policy_update(data={"mql_threshold": 100000})  # nobody qualifies: stages stay put
    rule = rule_create(data={"name": "Open", "kind": "behavior", "event": "Email Opened",
                             "points": 5})  # fmt: skip
    _bulk_leads(LEADS)
    old = {Decimal(5): 400, Decimal(10): 400, Decimal(15): 400}
    wait_for(lambda: _score_counts() == old, timeout=120)

    client = client_for(make_user("marketer"))
    answer = client.patch(f"/api/scoring/rules/{rule.pk}/", {"points": 7}, format="json")
    assert answer.status_code == 200
    job_id = answer.json()["rescore"]["id"]
    assert answer.json()["rescore"]["total"] == LEADS

    # while it runs, the list shows the old scores or the new ones, never a mix of both
    new = {Decimal(7): 400, Decimal(14): 400, Decimal(21): 400}
    while (state := RescoreJob.objects.get(pk=job_id).state) in ("queued", "running"):
        counts = _score_counts()
        assert counts in (old, new), counts
    assert state == "done"
    assert _score_counts() == new
    progress = client.get(f"/api/scoring/rescore/{job_id}/").json()
    assert (progress["state"], progress["total"], progress["done"]) == ("done", LEADS, LEADS)
    assert progress["changed"] == LEADS
    assert ScoringState.objects.get().version == job_id
    assert not Qualification.objects.exists()


def test_the_simulator_matches_live_scores_and_changes_nothing(celery_worker_process, make_user):
    policy_update(data={"mql_threshold": 100000})
    rule = {"name": "Open", "kind": "behavior", "event": "Email Opened", "points": 5}
    rule_create(data=rule)
    _bulk_leads(300)
    wait_for(
        lambda: (
            not ScoreQueue.objects.exists()
            and LeadView.objects.filter(scoring__score=15).count() == 100
        )
    )
    stages = list(
        LeadView.objects.order_by("pk").values_list("pk", "lifecycle__stage", "scoring__score")
    )
    client = client_for(make_user("admin"))

    live = client.post("/api/scoring/simulate/", {"mql_threshold": 10}, format="json").json()
    drafted = client.post(
        "/api/scoring/simulate/",
        {"rules": [{**rule, "name": "same rule, new name"}], "mql_threshold": 10},
        format="json",
    ).json()
    doubled = client.post(
        "/api/scoring/simulate/",
        {"rules": [{**rule, "points": 10}], "mql_threshold": 10},
        format="json",
    ).json()

    assert live["would_qualify"] == LeadView.objects.filter(scoring__score__gte=10).count() == 200
    assert live["leads_evaluated"] == LeadView.objects.count() == 300
    assert {k: v for k, v in drafted.items() if k not in ("as_of", "rules_reused")} == {
        k: v for k, v in live.items() if k not in ("as_of", "rules_reused")
    }
    assert (doubled["would_qualify"], doubled["newly_qualified"]) == (300, 300)
    assert (
        list(
            LeadView.objects.order_by("pk").values_list("pk", "lifecycle__stage", "scoring__score")
        )
        == stages
    )
    assert not Qualification.objects.exists()
