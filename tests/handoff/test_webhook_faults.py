"""Webhook faults: a receiver that drips bytes (each try has an overall deadline), 410 Gone
(disables the webhook), an admin re-sending a failed delivery, the secret shown once and
rotated."""

import socket
import threading
from datetime import timedelta

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook as Verifier

from handoff.models import LeadView, Webhook, WebhookDelivery
from handoff.webhooks import (
    LEASE,
    LEASE_MARGIN,
    RETRY_DELAYS,
    deliveries_due,
    try_deadline,
    webhook_create,
    webhook_deliver,
)
from tests.conftest import client_for, signed_in
from tests.factories import lead_make

from .conftest import score_all, track
from .test_webhooks import mql_with_webhook

pytestmark = pytest.mark.django_db


class Dripper:
    """A receiver on 127.0.0.1 that reads the request, then answers one byte a second: either
    after the status line and headers (`where="body"`, 200 with Content-Length) or in the
    middle of the headers (`where="headers"`). It notes whether it ever got to the end."""

    def __init__(self, *, where: str, length: int = 120) -> None:
        self.where, self.length = where, length
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/hook"
        self.requests = 0
        self.dripped = 0
        self.finished = False
        self.cut_off = threading.Event()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        self.listener.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            with conn:
                self.answer(conn)

    def answer(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        request = b""
        while b"\r\n\r\n" not in request:
            request += conn.recv(65536)
        head, _, body = request.partition(b"\r\n\r\n")
        length = int(
            next(
                line.split(b":", 1)[1]
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
        )
        while len(body) < length:
            body += conn.recv(65536)
        self.requests += 1
        if self.where == "body":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % self.length)
        else:
            conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        for _ in range(self.length):
            if self.stop.wait(1):
                return
            try:
                conn.sendall(b"x")
            except OSError:  # the client hung up on us
                self.cut_off.set()
                return
            self.dripped += 1
        if self.where == "headers":
            conn.sendall(b"\r\nContent-Length: 0\r\n\r\n")
        self.finished = True

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        self.listener.close()


@pytest.fixture
def dripper(request):
    made = []

    def make(where):
        made.append(Dripper(where=where))
        return made[-1]

    yield make
    for one in made:
        one.close()


def pending_delivery(hook, *, now=None):
    now = now or timezone.now()
    lead = lead_make(email=f"d{WebhookDelivery.objects.count()}@example.co.jp")
    return WebhookDelivery.objects.create(
        webhook=hook,
        event_type="lead.mql",
        msg_id=f"msg_test{lead.pk}",
        payload='{"type":"lead.mql"}',
        next_attempt_at=now,
        created_at=now,
    )


# --- the deadline of a try -------------------------------------------------------------------


@pytest.mark.parametrize("where", ["body", "headers"])
def test_a_receiver_that_drips_bytes_is_cut_off_at_the_deadline_and_retried(
    where, dripper, private_hosts, settings
):
    # given: a try may take 2 s in all; the receiver would take 120 s, a byte a second
    settings.WEBHOOK_TRY_DEADLINE = 2
    slow = dripper(where)
    hook = webhook_create(data={"url": slow.url, "events": ["lead.mql"]})
    delivery = pending_delivery(hook)
    # when
    delay = webhook_deliver(delivery.pk)
    # then: the try ended before the receiver got to its end, and failed: retried later
    assert slow.cut_off.wait(timeout=5)
    assert (slow.requests, slow.finished) == (1, False)
    assert slow.dripped < slow.length
    assert delay == RETRY_DELAYS[0]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, None)
    assert delivery.last_error == (
        "TimeoutError: no complete answer within the 2 s deadline of a try"
    )
    attempt = delivery.tries.get()
    assert (attempt.number, attempt.error) == (1, delivery.last_error)
    assert attempt.duration_ms < LEASE.total_seconds() * 1000


def test_the_deadline_of_a_try_is_always_well_within_its_lease(settings):
    settings.WEBHOOK_TRY_DEADLINE = 3600
    assert try_deadline() == LEASE.total_seconds() - LEASE_MARGIN
    settings.WEBHOOK_TRY_DEADLINE = 15
    assert try_deadline() == 15


# --- 410 Gone --------------------------------------------------------------------------------


def test_a_410_gone_disables_the_webhook_and_nothing_more_is_sent_to_it(
    ingest, make_user, rules, receiver, private_hosts, django_capture_on_commit_callbacks
):
    rep = make_user("sales")
    hook = webhook_create(data={"url": receiver.url, "events": ["lead.mql", "lead.accepted"]})
    later = timezone.now() + timedelta(minutes=5)
    waiting = pending_delivery(hook, now=later)  # an earlier message, its retry not yet due
    receiver.statuses = [410]
    # when: a lead becomes an MQL and the receiver answers 410 Gone
    ingest("/v1/batch", {"batch": track("a@example.co.jp", "Document Downloaded", 3)})
    with django_capture_on_commit_callbacks(execute=True):
        score_all()
    # then: that delivery is failed, not retried, and the webhook is off with the reason
    gone = WebhookDelivery.objects.exclude(pk=waiting.pk).get()
    assert (gone.status, gone.attempts, gone.last_status_code) == ("failed", 1, 410)
    assert gone.next_attempt_at is None
    assert gone.last_error.startswith("HTTP 410 Gone")
    hook.refresh_from_db()
    assert hook.active is False
    assert hook.disabled_reason.startswith("Disabled: the endpoint answered 410 Gone")
    assert gone.msg_id in hook.disabled_reason
    assert len(receiver.requests) == 1
    # admins see why, in the API and on the pages
    admin = client_for(make_user("admin"))
    shown = admin.get(f"/api/webhooks/{hook.pk}/").json()
    assert (shown["active"], shown["disabled_reason"]) == (False, hook.disabled_reason)
    assert shown["disabled_at"] is not None
    browser = signed_in(make_user("admin"))
    assert hook.disabled_reason in browser.get("/webhooks/").content.decode()
    assert hook.disabled_reason in browser.get(f"/webhooks/{hook.pk}/").content.decode()
    # nothing more goes to it: the waiting delivery is not tried, a new event makes none
    assert waiting.pk not in deliveries_due(now=later)
    assert webhook_deliver(waiting.pk, now=later) is None
    lead = LeadView.objects.get(email="a@example.co.jp")
    with django_capture_on_commit_callbacks(execute=True):
        accepted = client_for(rep).post(f"/api/handoff/leads/{lead.pk}/accept/")
    assert accepted.status_code == 200
    assert WebhookDelivery.objects.count() == 2
    assert len(receiver.requests) == 1
    waiting.refresh_from_db()
    assert (waiting.status, waiting.attempts) == ("pending", 0)
    # turned back on by an admin: the reason goes, and the waiting delivery goes out
    turned = admin.patch(f"/api/webhooks/{hook.pk}/", {"active": True}, format="json").json()
    assert (turned["active"], turned["disabled_reason"], turned["disabled_at"]) == (
        True,
        "",
        None,
    )
    assert webhook_deliver(waiting.pk, now=later) is None
    waiting.refresh_from_db()
    assert waiting.status == "delivered"
    assert len(receiver.requests) == 2


# --- an admin re-sends a failed delivery -----------------------------------------------------


def failed_delivery(ingest, receiver, capture):
    receiver.statuses = [500] * (len(RETRY_DELAYS) + 1)
    hook, _ = mql_with_webhook(ingest, receiver, capture)
    delivery = WebhookDelivery.objects.get()
    while delivery.status == "pending":
        webhook_deliver(delivery.pk, now=delivery.next_attempt_at)
        delivery.refresh_from_db()
    assert delivery.status == "failed"
    return hook, delivery


def test_an_admin_resends_a_failed_delivery_under_the_same_webhook_id(
    ingest, make_user, rules, receiver, private_hosts, django_capture_on_commit_callbacks
):
    make_user("sales")
    hook, delivery = failed_delivery(ingest, receiver, django_capture_on_commit_callbacks)
    url = f"/api/webhooks/{hook.pk}/deliveries/{delivery.pk}/resend/"
    for role in ("sales", "marketer"):
        assert client_for(make_user(role)).post(url).status_code == 403
    admin = client_for(make_user("admin"))
    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post(url)
    assert response.status_code == 202, response.content
    assert (response.json()["id"], response.json()["status"], response.json()["resends"]) == (
        delivery.pk,
        "pending",
        1,
    )
    delivery.refresh_from_db()
    tries = len(RETRY_DELAYS) + 2
    assert (delivery.status, delivery.attempts, delivery.resends) == ("delivered", tries, 1)
    assert len(receiver.requests) == tries
    assert {r["headers"]["webhook-id"] for r in receiver.requests} == {delivery.msg_id}
    Verifier(hook.secret).verify(receiver.requests[-1]["body"], receiver.requests[-1]["headers"])
    log = admin.get(f"/api/webhooks/{hook.pk}/deliveries/").json()
    assert [t["status_code"] for t in log[0]["tries"]][-2:] == [500, 200]
    # delivered: nothing to re-send; a delivery of another webhook is not found here
    again = admin.post(url)
    assert (again.status_code, again.json()["status"]) == (409, "delivered")
    other = webhook_create(data={"url": receiver.url, "events": ["lead.won"]})
    assert admin.post(f"/api/webhooks/{other.pk}/deliveries/{delivery.pk}/resend/").status_code == (
        404
    )


def test_a_resend_is_one_try_and_a_disabled_webhook_is_not_resent(
    ingest, make_user, rules, receiver, private_hosts, django_capture_on_commit_callbacks
):
    make_user("sales")
    hook, delivery = failed_delivery(ingest, receiver, django_capture_on_commit_callbacks)
    admin = client_for(make_user("admin"))
    url = f"/api/webhooks/{hook.pk}/deliveries/{delivery.pk}/resend/"
    receiver.statuses = [503, 503]
    with django_capture_on_commit_callbacks(execute=True):
        assert admin.post(url).status_code == 202
    delivery.refresh_from_db()
    # still failing: failed again at once, with the new answer, not put on a schedule
    assert (delivery.status, delivery.last_status_code, delivery.next_attempt_at) == (
        "failed",
        503,
        None,
    )
    admin.patch(f"/api/webhooks/{hook.pk}/", {"active": False}, format="json")
    refused = admin.post(url)
    assert refused.status_code == 409
    assert "disabled" in refused.json()["error"]


def test_the_resend_button_on_the_delivery_log(
    ingest, make_user, rules, receiver, private_hosts, django_capture_on_commit_callbacks
):
    make_user("sales")
    hook, delivery = failed_delivery(ingest, receiver, django_capture_on_commit_callbacks)
    browser = signed_in(make_user("admin"))
    listing = browser.get("/webhooks/").content.decode()
    assert f'<a href="/webhooks/{hook.pk}/" class="status-failed">1</a>' in listing
    action = f"/webhooks/{hook.pk}/deliveries/{delivery.pk}/resend/"
    page = browser.get(f"/webhooks/{hook.pk}/").content.decode()
    assert f'action="{action}"' in page
    assert "Resend" in page
    assert signed_in(make_user("sales")).post(action).status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post(action)
    assert (response.status_code, response["Location"]) == (302, f"/webhooks/{hook.pk}/")
    delivery.refresh_from_db()
    assert delivery.status == "delivered"
    assert f'action="{action}"' not in browser.get(f"/webhooks/{hook.pk}/").content.decode()


# --- the secret: shown once, rotated ---------------------------------------------------------


def test_the_secret_is_shown_once_and_rotation_gives_a_new_one(
    ingest, make_user, rules, receiver, private_hosts, django_capture_on_commit_callbacks
):
    admin = client_for(make_user("admin"))
    created = admin.post(
        "/api/webhooks/", {"url": receiver.url, "events": ["lead.mql"]}, format="json"
    ).json()
    first = created["secret"]
    assert first.startswith("whsec_")
    pk = created["id"]
    # no later answer carries it
    for path in ("/api/webhooks/", f"/api/webhooks/{pk}/", f"/api/webhooks/{pk}/deliveries/"):
        answer = admin.get(path)
        assert answer.status_code == 200
        assert first not in answer.content.decode()
    listed = admin.get("/api/webhooks/").json()[0]
    assert "secret" not in listed
    patched = admin.patch(f"/api/webhooks/{pk}/", {"description": "CRM"}, format="json").json()
    assert "secret" not in patched
    # rotation: admins only, a new secret in that answer only
    for role in ("sales", "marketer"):
        assert client_for(make_user(role)).post(f"/api/webhooks/{pk}/rotate/").status_code == 403
    rotated = admin.post(f"/api/webhooks/{pk}/rotate/")
    assert rotated.status_code == 200
    second = rotated.json()["secret"]
    assert second.startswith("whsec_")
    assert second != first
    assert rotated.json()["secret_rotated_at"] is not None
    assert second not in admin.get(f"/api/webhooks/{pk}/").content.decode()
    assert admin.post("/api/webhooks/999999/rotate/").status_code == 404
    # deliveries are signed with the new secret from then on, not the old
    make_user("sales")
    ingest(
        "/v1/batch",
        {
            "batch": [
                {
                    "type": "track",
                    "userId": "s@example.co.jp",
                    "event": "Document Downloaded",
                    "messageId": f"m{i}",
                    "context": {"traits": {"email": "s@example.co.jp"}},
                }
                for i in range(3)
            ]
        },
    )
    with django_capture_on_commit_callbacks(execute=True):
        score_all()
    assert LeadView.objects.get(email="s@example.co.jp").stage == "mql"
    request = receiver.requests[-1]
    Verifier(second).verify(request["body"], request["headers"])
    with pytest.raises(Exception, match="signature"):
        Verifier(first).verify(request["body"], request["headers"])


def test_the_webhook_page_shows_the_secret_once_and_rotates_it(make_user, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = False
    browser = signed_in(make_user("admin"))
    browser.post("/webhooks/", {"url": "https://93.184.216.34/x", "events": ["lead.mql"]})
    hook = Webhook.objects.get()
    first = browser.get(f"/webhooks/{hook.pk}/")
    assert hook.secret in first.content.decode()
    assert "no-store" in first["Cache-Control"]
    assert hook.secret not in browser.get(f"/webhooks/{hook.pk}/").content.decode()
    assert hook.secret not in browser.get("/webhooks/").content.decode()
    # the Rotate form asks first, from a static script (no inline handler)
    page = browser.get(f"/webhooks/{hook.pk}/").content.decode()
    assert 'data-confirm="Make a new signing secret?' in page
    assert '<script src="/static/console/confirm.js" defer></script>' in page
    assert " onsubmit=" not in page
    # rotate: the new secret once, then hidden again
    rotated = browser.post(f"/webhooks/{hook.pk}/", {"rotate": "1"})
    assert rotated.status_code == 302
    old, hook = hook.secret, Webhook.objects.get()
    assert hook.secret != old
    shown = browser.get(f"/webhooks/{hook.pk}/").content.decode()
    assert hook.secret in shown
    assert old not in shown
    assert hook.secret not in browser.get(f"/webhooks/{hook.pk}/").content.decode()
    sales = signed_in(make_user("sales"))
    assert sales.post(f"/webhooks/{hook.pk}/", {"rotate": "1"}).status_code == 403
    assert Webhook.objects.get().secret == hook.secret


def test_the_new_labels_speak_japanese(
    ingest, make_user, rules, receiver, private_hosts, django_capture_on_commit_callbacks
):
    make_user("sales")
    hook, _ = failed_delivery(ingest, receiver, django_capture_on_commit_callbacks)
    browser = signed_in(make_user("admin"), language="ja")
    detail = browser.get(f"/webhooks/{hook.pk}/").content.decode()
    assert "シークレットをローテーション" in detail
    assert ">再送<" in detail
    assert "非表示（作成時に一度だけ表示）。" in detail
    assert "送信に失敗したメール通知" in browser.get("/webhooks/").content.decode()


def test_a_url_with_a_japanese_path_is_delivered_instead_of_failing_every_try(
    receiver, private_hosts
):
    # before: the request line could not be encoded, the task raised before recording the try,
    # and the sweep picked the delivery up again every minute, for ever
    hook = webhook_create(data={"url": f"{receiver.url}/受信?種類=mql", "events": ["lead.mql"]})
    delivery = pending_delivery(hook)
    assert webhook_deliver(delivery.pk) is None
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 1)
    assert [r["path"] for r in receiver.requests] == [
        "/hooks/mqlapp/%E5%8F%97%E4%BF%A1?%E7%A8%AE%E9%A1%9E=mql"
    ]
