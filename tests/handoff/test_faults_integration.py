"""Task faults against PostgreSQL, Redis and real Celery workers: a notification that always
fails is tried a bounded number of times, then failed until an admin retries it; a receiver
that drips bytes cannot hold a webhook worker past a try's deadline."""

import email
import email.policy
import os
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from handoff.models import Assignment, WebhookDelivery
from handoff.notifications import MAX_ATTEMPTS
from handoff.services import mql_qualify
from handoff.webhooks import RETRY_DELAYS, webhook_create
from mqlapp.leads.models import User
from mqlapp.leads.services import task_kick
from tests.conftest import client_for, requires_services, wait_for, workers_idle
from tests.factories import lead_make

from .test_webhook_faults import Dripper, pending_delivery

pytestmark = [
    requires_services,
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
]


def mails_to(mail_dir: Path, address: str) -> list[str]:
    """Messages the worker wrote (file email backend) addressed to `address`."""
    found = []
    for path in sorted(mail_dir.iterdir()):
        found += [
            m for m in path.read_text(errors="replace").split("-" * 79) if f"To: {address}" in m
        ]
    return found


def test_a_notification_that_always_fails_is_tried_a_bounded_number_of_times_then_retried(
    start_workers, make_user, worker_mail_dir
):
    from mqlapp.celery import app

    start_workers((f"notify-{os.getpid()}@host", ["handoff"], 1))
    # given: a rep whose stored address no mailer takes, so every send of their mail fails;
    # and a lead whose company holds a line break (that alone broke the mail before)
    rep = make_user("sales")
    User.objects.filter(pk=rep.pk).update(email="rep@example.com\nBcc: x@evil.example")
    tag = uuid.uuid4().hex[:8]
    lead = lead_make(email=f"always-{tag}@example.co.jp", company="桜製作所\r\nBcc: y@evil.example")
    # when: it becomes an MQL; the worker sends the rep's mail after commit
    mql_qualify(lead.pk, score=Decimal(80), reason="threshold", now=timezone.now())
    row = wait_for(lambda: Assignment.objects.filter(lead_id=lead.pk, notify_attempts=1).first())
    assert row.notify_error.startswith("BadHeaderError")
    assert "for header 'To'" in row.notify_error
    assert row.notify_retry_at is not None
    # each time its next try falls due, the beat's sweep hands it to the worker again
    for tries in range(2, MAX_ATTEMPTS + 1):
        Assignment.objects.filter(pk=row.pk).update(
            at=timezone.now() - timedelta(hours=1),
            notify_retry_at=timezone.now() - timedelta(seconds=1),
        )
        app.send_task("handoff.tasks.notifications_resend")
        wait_for(lambda t=tries: Assignment.objects.filter(pk=row.pk, notify_attempts=t).exists())
    # then: given up, and the sweep, running on, leaves it alone: no loop
    row.refresh_from_db()
    assert (row.notify_failed_at is not None, row.notify_retry_at, row.notified_at) == (
        True,
        None,
        None,
    )
    for _ in range(3):
        app.send_task("handoff.tasks.notifications_resend")
    workers_idle()
    row.refresh_from_db()
    assert row.notify_attempts == MAX_ATTEMPTS
    # an admin sees it, fixes the address and retries it: the worker sends it, once
    admin = client_for(make_user("admin"))
    failed = admin.get("/api/handoff/notifications/?status=failed").json()
    assert [(n["kind"], n["id"], n["attempts"]) for n in failed] == [
        ("assignment", row.pk, MAX_ATTEMPTS)
    ]
    address = f"rep-{tag}@example.com"
    User.objects.filter(pk=rep.pk).update(email=address)
    retried = admin.post(f"/api/handoff/notifications/assignment/{row.pk}/retry/")
    assert retried.status_code == 202, retried.content
    wait_for(lambda: Assignment.objects.filter(pk=row.pk, notified_at__isnull=False).exists())
    sent = wait_for(lambda: mails_to(worker_mail_dir, address))
    assert len(sent) == 1
    message = email.message_from_string(sent[0].strip(), policy=email.policy.default)
    assert message["Subject"].strip() == (
        f"[mqlapp] New MQL: {lead.email} (桜製作所 Bcc: y@evil.example) score 80.00"
    )
    assert (message["To"], message["Bcc"]) == (address, None)
    assert admin.get("/api/handoff/notifications/").json() == []


def test_a_dripping_receiver_cannot_hold_a_webhook_worker_past_the_deadline(
    start_workers, private_hosts, monkeypatch
):
    # given: a webhook worker whose tries may take 3 s in all, and a receiver that would
    # take two minutes, a byte a second
    monkeypatch.setenv("WEBHOOK_TRY_DEADLINE", "3")
    start_workers((f"hooks-{os.getpid()}@host", ["webhooks"], 1))
    slow = Dripper(where="body")
    try:
        hook = webhook_create(data={"url": slow.url, "events": ["lead.mql"]})
        delivery = pending_delivery(hook)
        # when
        task_kick("handoff.tasks.webhook_deliver", delivery.pk)
        # then: the worker's try ends at its deadline, recorded as failed and retried later
        tried = wait_for(
            lambda: (
                WebhookDelivery.objects.filter(pk=delivery.pk, attempts__gte=1)
                .exclude(last_error="")
                .first()
            ),
            timeout=60,
        )
        assert tried.last_error == (
            "TimeoutError: no complete answer within the 3 s deadline of a try"
        )
        assert slow.cut_off.wait(timeout=10)
        assert slow.finished is False
        first = tried.tries.get(number=1)
        assert (first.status_code, first.error) == (None, tried.last_error)
        assert tried.status == "pending"
        assert tried.next_attempt_at >= first.at + timedelta(seconds=RETRY_DELAYS[0])
    finally:
        slow.close()
