"""Webhooks: secrets, the SSRF guard at save and at send, Standard Webhooks signatures, retries."""

import base64
import json
from datetime import timedelta

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook as Verifier

from handoff.models import LeadView, WebhookDelivery
from handoff.webhooks import RETRY_DELAYS, webhook_create, webhook_deliver
from tests.conftest import client_for
from tests.factories import lead_make

from .conftest import score_all, track

pytestmark = pytest.mark.django_db


def mql_with_webhook(ingest, receiver, capture, email="hanako@example.co.jp"):
    """A lead crosses the threshold with a lead.mql webhook pointing at the receiver."""
    hook = webhook_create(data={"url": receiver.url, "events": ["lead.mql"]})
    ingest(
        "/v1/batch",
        {
            "batch": [
                {
                    "type": "identify",
                    "userId": "u1",
                    "traits": {"email": email, "lastName": "佐藤"},
                },
                *track(email, "Document Downloaded", 3),
            ]
        },
    )
    with capture(execute=True):
        score_all()
    return hook, LeadView.objects.get(email=email)


def test_an_admin_creates_a_webhook_and_gets_the_signing_secret(make_user):
    admin = client_for(make_user("admin"))
    response = admin.post(
        "/api/webhooks/",
        {"url": "https://93.184.216.34/hooks", "events": ["lead.mql", "lead.won"]},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["secret"].startswith("whsec_")
    assert len(base64.b64decode(body["secret"].removeprefix("whsec_"))) == 32
    assert (body["url"], body["events"], body["active"]) == (
        "https://93.184.216.34/hooks",
        ["lead.mql", "lead.won"],
        True,
    )
    assert admin.get("/api/webhooks/").json()[0]["id"] == body["id"]
    changed = admin.patch(
        f"/api/webhooks/{body['id']}/", {"active": False, "rotate_secret": True}, format="json"
    ).json()
    assert changed["active"] is False
    assert changed["secret"] != body["secret"]
    assert admin.get(f"/api/webhooks/{body['id']}/deliveries/").json() == []
    assert admin.delete(f"/api/webhooks/{body['id']}/").status_code == 204
    assert admin.get("/api/webhooks/").json() == []


def test_only_admins_see_webhooks(make_user):
    for role in ("marketer", "sales"):
        client = client_for(make_user(role))
        assert client.get("/api/webhooks/").status_code == 403
        assert (
            client.post(
                "/api/webhooks/", {"url": "https://93.184.216.34/"}, format="json"
            ).status_code
            == 403
        )


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://localhost/hook",
        "http://10.0.0.5/hook",
        "http://172.16.3.4/hook",
        "http://192.168.1.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://[fe80::1]/hook",
        "http://0.0.0.0/hook",
        "http://100.64.0.1/hook",
        "ftp://93.184.216.34/hook",
        "http://user:pw@93.184.216.34/hook",
        "http://no-such-host.invalid/hook",
        "not a url",
    ],
)
def test_private_loopback_link_local_and_odd_urls_are_refused_at_save(url, make_user, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = False
    admin = client_for(make_user("admin"))
    response = admin.post("/api/webhooks/", {"url": url, "events": ["lead.mql"]}, format="json")
    assert response.status_code == 400
    assert response.json()["error"].startswith("url refused")
    assert "url" in response.json()["fields"]


def test_unknown_events_are_400(make_user):
    admin = client_for(make_user("admin"))
    for events in (["lead.created"], [], "lead.mql"):
        response = admin.post(
            "/api/webhooks/", {"url": "https://93.184.216.34/", "events": events}, format="json"
        )
        assert response.status_code == 400
        assert "events" in response.json()["fields"]


def test_a_delivery_verifies_with_the_standardwebhooks_library(
    ingest, make_user, rules, receiver, private_hosts, django_capture_on_commit_callbacks
):
    rep = make_user("sales", username="sato")
    hook, lead = mql_with_webhook(ingest, receiver, django_capture_on_commit_callbacks)
    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    assert request["path"] == "/hooks/mqlapp"
    assert request["headers"]["webhook-id"].startswith("msg_")
    assert request["headers"]["webhook-signature"].startswith("v1,")
    body = Verifier(hook.secret).verify(request["body"], request["headers"])
    assert body["type"] == "lead.mql"
    assert body["timestamp"]
    data = body["data"]
    assert (data["id"], data["email"], data["last_name"], data["stage"], data["score"]) == (
        lead.pk,
        "hanako@example.co.jp",
        "佐藤",
        "mql",
        60.0,
    )
    assert data["owner"] == {"id": rep.pk, "username": "sato", "email": "sato@example.com"}
    assert (data["previous_stage"], data["reason"], data["cycle"]) == ("nurturing", "threshold", 1)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 200)
    # a tampered body does not verify
    with pytest.raises(Exception, match="signature"):
        Verifier(hook.secret).verify(request["body"].replace("60.0", "99.0"), request["headers"])


def test_a_failing_endpoint_is_retried_with_backoff_under_the_same_id(
    ingest, make_user, rules, receiver, private_hosts, django_capture_on_commit_callbacks
):
    make_user("sales")
    receiver.statuses = [500, 503]
    hook, _ = mql_with_webhook(ingest, receiver, django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
    first_retry = delivery.next_attempt_at - delivery.tries.get().at
    assert first_retry == timedelta(seconds=RETRY_DELAYS[0])
    assert first_retry <= timedelta(seconds=30)
    # not due yet: nothing is sent
    assert webhook_deliver(delivery.pk, now=timezone.now()) is None
    assert len(receiver.requests) == 1
    assert webhook_deliver(delivery.pk, now=delivery.next_attempt_at) == RETRY_DELAYS[1]
    delivery.refresh_from_db()
    assert webhook_deliver(delivery.pk, now=delivery.next_attempt_at) is None
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 3, 200)
    ids = {r["headers"]["webhook-id"] for r in receiver.requests}
    assert ids == {delivery.msg_id}
    assert len({r["body"] for r in receiver.requests}) == 1
    for request in receiver.requests:
        Verifier(hook.secret).verify(request["body"], request["headers"])
    log = client_for(make_user("admin")).get(f"/api/webhooks/{hook.pk}/deliveries/").json()
    assert [(d["webhook_id"], d["status"], d["attempts"]) for d in log] == [
        (delivery.msg_id, "delivered", 3)
    ]
    assert [(t["number"], t["status_code"], t["error"]) for t in log[0]["tries"]] == [
        (1, 500, "HTTP 500"),
        (2, 503, "HTTP 503"),
        (3, 200, ""),
    ]
    assert json.loads(log[0]["payload"])["type"] == "lead.mql"


def test_it_gives_up_after_the_last_retry(
    ingest, make_user, rules, receiver, private_hosts, django_capture_on_commit_callbacks
):
    receiver.statuses = [500] * (len(RETRY_DELAYS) + 1)
    mql_with_webhook(ingest, receiver, django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get()
    while delivery.status == "pending":
        webhook_deliver(delivery.pk, now=delivery.next_attempt_at)
        delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", len(RETRY_DELAYS) + 1)
    assert delivery.next_attempt_at is None
    assert len(receiver.requests) == len(RETRY_DELAYS) + 1


def test_redirects_are_not_followed(
    ingest, make_user, rules, receiver, private_hosts, django_capture_on_commit_callbacks
):
    receiver.statuses = [302]
    mql_with_webhook(ingest, receiver, django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.last_status_code) == ("pending", 302)
    assert "redirects are not followed" in delivery.last_error
    assert len(receiver.requests) == 1


def test_a_private_address_is_refused_at_send_too(
    ingest, make_user, rules, receiver, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True
    hook = webhook_create(data={"url": receiver.url, "events": ["lead.mql"]})
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = False
    ingest("/v1/batch", {"batch": track("a@example.co.jp", "Document Downloaded", 3)})
    with django_capture_on_commit_callbacks(execute=True):
        score_all()
    delivery = WebhookDelivery.objects.get(webhook=hook)
    assert delivery.status == "pending"
    assert delivery.last_error.startswith("refused: the host 127.0.0.1 resolves to a private")
    assert delivery.last_status_code is None
    assert receiver.requests == []


def test_only_active_webhooks_on_that_event_get_a_delivery(
    ingest, make_user, rules, receiver, private_hosts, django_capture_on_commit_callbacks
):
    webhook_create(data={"url": receiver.url, "events": ["lead.won"]})
    webhook_create(data={"url": receiver.url, "events": ["lead.mql"], "active": False})
    ingest("/v1/batch", {"batch": track("a@example.co.jp", "Document Downloaded", 3)})
    with django_capture_on_commit_callbacks(execute=True):
        score_all()
    assert LeadView.objects.get().stage == "mql"
    assert WebhookDelivery.objects.count() == 0
    assert receiver.requests == []


def test_every_stage_move_fires_its_event(
    make_user, receiver, private_hosts, django_capture_on_commit_callbacks
):
    rep = make_user("sales")
    webhook_create(data={"url": receiver.url})
    client = client_for(rep)
    moves = [
        ("accept", {}, "lead.accepted"),
        ("qualify", {}, "lead.qualified"),
        ("lose", {"reason": "competitor"}, "lead.lost"),
        ("recycle", {"reason": "bad_timing"}, "lead.recycled"),
    ]
    lead = lead_make(email="a@example.co.jp", stage="mql", owner=rep, cycle=1)
    other = lead_make(email="b@example.co.jp", stage="sql", owner=rep, cycle=1)
    third = lead_make(email="c@example.co.jp", stage="mql", owner=rep, cycle=1)
    with django_capture_on_commit_callbacks(execute=True):
        for action, body, _ in moves:
            assert (
                client.post(
                    f"/api/handoff/leads/{lead.pk}/{action}/", body, format="json"
                ).status_code
                == 200
            )
        assert client.post(f"/api/handoff/leads/{other.pk}/win/").status_code == 200
        assert (
            client.post(
                f"/api/handoff/leads/{third.pk}/reject/",
                {"reason": "student_or_job_seeker"},
                format="json",
            ).status_code
            == 200
        )
    assert [b["type"] for b in receiver.bodies()] == [
        "lead.accepted",
        "lead.qualified",
        "lead.lost",
        "lead.recycled",
        "lead.won",
        "lead.rejected",
    ]
    assert receiver.bodies()[-1]["data"]["reason"] == "student_or_job_seeker"
