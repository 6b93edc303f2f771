"""The webhook page's delivery log names the event and the lead and shows the body sent and
the receiver's answer; "send a test" sends a signed webhook.test message (API and button),
admins only."""

import pytest
from django.test import Client
from standardwebhooks.webhooks import Webhook as Verifier

from handoff.models import WebhookDelivery
from handoff.webhooks import webhook_create, webhook_update
from tests.conftest import client_for

from .test_webhooks import mql_with_webhook

pytestmark = pytest.mark.django_db


def test_an_admin_sends_a_test_message_through_the_api(
    make_user, receiver, private_hosts, django_capture_on_commit_callbacks
):
    hook = webhook_create(data={"url": receiver.url, "events": ["lead.mql"]})
    admin = client_for(make_user("admin"))
    with django_capture_on_commit_callbacks(execute=True):
        answer = admin.post(f"/api/webhooks/{hook.pk}/test/")
    assert answer.status_code == 202, answer.content
    assert answer.json()["event_type"] == "webhook.test"
    [request] = receiver.requests
    body = Verifier(hook.secret).verify(request["body"], request["headers"])
    assert body["type"] == "webhook.test"
    assert body["data"]["webhook"] == hook.pk
    delivery = WebhookDelivery.objects.get(pk=answer.json()["id"])
    assert (delivery.status, delivery.tries.get().status_code) == ("delivered", 200)


def test_a_test_needs_an_admin_and_an_active_webhook(make_user, private_hosts):
    hook = webhook_create(data={"url": "http://127.0.0.1:9/hooks", "events": ["lead.mql"]})
    marketer = client_for(make_user("marketer"))
    assert marketer.post(f"/api/webhooks/{hook.pk}/test/").status_code == 403
    webhook_update(hook, data={"active": False})
    admin = client_for(make_user("admin"))
    answer = admin.post(f"/api/webhooks/{hook.pk}/test/")
    assert answer.status_code == 409
    assert "disabled" in answer.json()["error"]
    assert admin.post("/api/webhooks/999999/test/").status_code == 404
    assert not WebhookDelivery.objects.exists()


def test_the_log_names_the_lead_and_shows_body_and_answer(
    ingest, make_user, rules, receiver, private_hosts, django_capture_on_commit_callbacks
):
    make_user("sales", username="sato")
    hook, lead = mql_with_webhook(ingest, receiver, django_capture_on_commit_callbacks)
    client = Client()
    client.force_login(make_user("admin", username="boss"))
    with django_capture_on_commit_callbacks(execute=True):
        sent = client.post(f"/webhooks/{hook.pk}/test/", HTTP_ACCEPT_LANGUAGE="en")
    assert sent.status_code == 302
    page = client.get(f"/webhooks/{hook.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    for words in ("Became an MQL", "<code>lead.mql</code>", "Test delivery", "webhook.test"):
        assert words in page, words
    assert f'href="/leads/{lead.pk}/">佐藤</a>' in page  # the lead, family name first
    assert "&quot;type&quot;: &quot;lead.mql&quot;" in page  # the body, pretty-printed
    assert "&quot;status&quot;: 200" in page  # the receiver's answer
    assert "Send a test" in page
    ja = client.get(f"/webhooks/{hook.pk}/", HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    for words in ("MQL になった", "テスト送信", "配信済み"):
        assert words in ja, words
