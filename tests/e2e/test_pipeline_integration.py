"""The whole path on PostgreSQL + Redis + a real Celery worker (issue 2's walking skeleton)."""

import uuid

import pytest
from rest_framework.test import APIClient

from handoff.models import LeadView
from handoff.services import policy_update
from mqlapp.leads.models import Event
from scoring.models import ScoreQueue
from scoring.services import rule_create
from tests.conftest import basic, client_for, requires_services, wait_for

pytestmark = [
    requires_services,
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
]


def _post(source, body):
    response = APIClient().post(
        "/v1/batch", body, format="json", HTTP_AUTHORIZATION=basic(source.write_key)
    )
    assert response.status_code == 200, response.content
    return response.json()


def test_events_to_score_to_mql_to_queue_to_accept(celery_worker_process, source, make_user):
    # given: a rule, a threshold, two reps
    rep = make_user("sales", username="rep-a")
    make_user("sales", username="rep-b", available=False)
    rule_create(
        data={"name": "Seminar", "kind": "behavior", "event": "Seminar Attended", "points": 30}
    )
    rule_create(data={"name": "Visit", "kind": "behavior", "event": "page", "points": 5})
    policy_update(data={"mql_threshold": 70})
    anon = str(uuid.uuid4())

    # when: anonymous page views, then the form fill, then a seminar (below the threshold)
    _post(
        source,
        {
            "batch": [
                {"type": "page", "anonymousId": anon, "properties": {"path": "/"}},
                {"type": "page", "anonymousId": anon, "properties": {"path": "/pricing"}},
                {
                    "type": "identify",
                    "anonymousId": anon,
                    "userId": "crm-42",
                    "traits": {
                        "email": "hanako@example.co.jp",
                        "lastName": "佐藤",
                        "firstName": "花子",
                    },
                },
                {"type": "track", "userId": "crm-42", "event": "Seminar Attended"},
            ]
        },
    )
    lead = wait_for(
        lambda: LeadView.objects.filter(email="hanako@example.co.jp", scoring__score=40).first()
    )
    assert lead.stage == "nurturing"

    # and a second seminar crosses the threshold (40 + 30 = 70)
    _post(source, {"batch": [{"type": "track", "userId": "crm-42", "event": "Seminar Attended"}]})
    lead = wait_for(lambda: LeadView.objects.filter(pk=lead.pk, lifecycle__stage="mql").first())

    # then: scored, qualified once, assigned to the available rep, in their queue
    assert lead.score == 70
    assert lead.owner_id == rep.pk
    client = client_for(rep)
    queue = client.get("/api/handoff/queue/").json()
    assert [item["id"] for item in queue] == [lead.pk]
    assert client.post(f"/api/handoff/leads/{lead.pk}/accept/").status_code == 200
    history = client.get(f"/api/leads/{lead.pk}/history/").json()
    assert [(h["from"], h["to"]) for h in history] == [("nurturing", "mql"), ("mql", "sal")]
    assert history[0]["score"] == 70
    score = client.get(f"/api/leads/{lead.pk}/score/").json()
    assert score["score"] == 70
    assert sum(item["points"] for item in score["breakdown"]) == 70


def test_same_message_id_is_stored_and_scored_once(celery_worker_process, source):
    rule_create(data={"name": "Open", "kind": "behavior", "event": "Email Opened", "points": 3})
    message = {
        "type": "track",
        "userId": "u-1",
        "event": "Email Opened",
        "messageId": "once",
        "context": {"traits": {"email": "once@example.com"}},
    }
    _post(source, {"batch": [message]})
    _post(source, {"batch": [message, message]})
    lead = wait_for(
        lambda: LeadView.objects.filter(email="once@example.com", scoring__score__gt=0).first()
    )
    # give the worker the chance to process every queued batch, then check nothing doubled
    wait_for(lambda: not ScoreQueue.objects.exists())
    lead.refresh_from_db()
    assert Event.objects.filter(message_id="once").count() == 1
    assert lead.score == 3
