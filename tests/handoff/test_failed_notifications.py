"""Notification e-mails that fail: lead data can never break a mail header, and a mail that can
never go is tried a bounded number of times, then kept as failed for admins to see and retry."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from handoff.models import Assignment, SlaBreach
from handoff.notifications import (
    BACKOFF,
    MAX_ATTEMPTS,
    assignment_notify,
    header_value,
    notifications_resend,
)
from handoff.services import mql_qualify, policy_update
from handoff.sla import mql_sla_sweep
from mqlapp.leads.models import User
from tests.conftest import client_for, signed_in
from tests.factories import lead_make

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english_mail(settings):
    """These tests read the mails' wording in English (LANGUAGE_CODE=en); the Japanese mail a
    default install sends is tested by test_mails_are_in_the_site_language_japanese_by_default."""
    settings.LANGUAGE_CODE = "en"


# What the reproduction used: a line break (and a header after it) in the lead's own data.
COMPANY = "桜製作所\r\nBcc: attacker@evil.example"


def new_mql(capture, *, at=None, **fields):
    lead = lead_make(**{"email": "hanako@example.co.jp", "company": COMPANY, **fields})
    with capture(execute=True):
        assert mql_qualify(lead.pk, score=Decimal(80), reason="threshold", now=at or timezone.now())
    return lead


def test_header_values_are_one_line_whatever_the_lead_data_holds():
    assert header_value("山田\n 太郎 (桜製作所\r\nBcc: x@evil.example)") == (
        "山田 太郎 (桜製作所 Bcc: x@evil.example)"
    )
    assert header_value("a\u2028b\x85c\x00d\te") == "a b c d e"
    assert len(header_value("長" * 5000)) == 200


def test_a_line_break_in_a_leads_name_or_company_cannot_break_the_mql_email(
    make_user, django_capture_on_commit_callbacks
):
    rep = make_user("sales")
    mail.outbox.clear()
    new_mql(django_capture_on_commit_callbacks, last_name="山田\n", first_name="花子")
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.subject == (
        "[mqlapp] New MQL: 山田 花子 (桜製作所 Bcc: attacker@evil.example) score 80.00"
    )
    rendered = message.message()
    assert rendered["Bcc"] is None
    assert message.recipients() == [rep.email]
    assert "\nBcc:" not in rendered.as_string().split("\n\n", 1)[0]
    row = Assignment.objects.get()
    assert (row.notified_at is not None, row.notify_attempts, row.notify_error) == (True, 1, "")


def test_a_line_break_in_the_company_cannot_break_the_sla_breach_email(
    make_user, django_capture_on_commit_callbacks
):
    make_user("sales")
    make_user("admin", username="boss")
    policy_update(data={"sla_hours": 1})
    new_mql(django_capture_on_commit_callbacks, at=timezone.now() - timedelta(hours=2))
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert mql_sla_sweep() == 1
    assert [(m.subject, m.to) for m in mail.outbox] == [
        (
            "[mqlapp] SLA breached: hanako@example.co.jp (桜製作所 Bcc: attacker@evil.example)",
            ["boss@example.com"],
        )
    ]
    assert SlaBreach.objects.get().notified_at is not None


def rep_with_a_broken_address(make_user):
    """A rep whose stored address no mailer takes (a line break in it): every send fails."""
    rep = make_user("sales")
    User.objects.filter(pk=rep.pk).update(email="rep@example.com\nBcc: x@evil.example")
    return rep


def test_a_mail_that_always_fails_is_tried_a_bounded_number_of_times_then_failed(
    make_user, django_capture_on_commit_callbacks
):
    rep_with_a_broken_address(make_user)
    mail.outbox.clear()
    start = timezone.now()
    new_mql(django_capture_on_commit_callbacks, at=start)
    row = Assignment.objects.get()
    assert (row.notified_at, row.notify_attempts, row.notify_failed_at) == (None, 1, None)
    assert row.notify_error.startswith("BadHeaderError")
    # the sweep leaves it alone until its next try is due, then kicks it again
    first_retry = row.notify_retry_at
    assert first_retry is not None
    assert first_retry - start >= timedelta(seconds=BACKOFF[0])
    assert notifications_resend(now=first_retry - timedelta(seconds=1)) == 0
    for tries in range(2, MAX_ATTEMPTS + 1):
        due = row.notify_retry_at
        assert notifications_resend(now=due) == 1
        assert assignment_notify(row.pk, now=due) is False
        row.refresh_from_db()
        assert row.notify_attempts == tries
    # given up: failed, with the error; never tried again by itself, however long we wait
    assert row.notify_failed_at is not None
    assert row.notify_retry_at is None
    assert row.notified_at is None
    later = timezone.now() + timedelta(days=30)
    assert notifications_resend(now=later) == 0
    assert assignment_notify(row.pk, now=later) is False
    row.refresh_from_db()
    assert row.notify_attempts == MAX_ATTEMPTS
    assert mail.outbox == []


def test_admins_see_failed_notifications_and_retry_them(
    make_user, django_capture_on_commit_callbacks
):
    rep = rep_with_a_broken_address(make_user)
    lead = new_mql(django_capture_on_commit_callbacks)
    row = Assignment.objects.get()
    Assignment.objects.filter(pk=row.pk).update(
        notify_attempts=MAX_ATTEMPTS, notify_failed_at=timezone.now(), notify_retry_at=None
    )
    admin = client_for(make_user("admin"))
    # visible: in the API ...
    listed = admin.get("/api/handoff/notifications/").json()
    assert [(n["kind"], n["id"], n["lead"], n["status"], n["attempts"]) for n in listed] == [
        ("assignment", row.pk, lead.pk, "failed", MAX_ATTEMPTS)
    ]
    assert listed[0]["error"].startswith("BadHeaderError")
    assert admin.get("/api/handoff/notifications/?status=retrying").json() == []
    bad = admin.get("/api/handoff/notifications/?status=lost")
    assert (bad.status_code, bad.json()["fields"]) == (400, {"status": ["retrying or failed"]})
    # ... and on the webhooks page, with a Retry button
    page = signed_in(make_user("admin")).get("/webhooks/").content.decode()
    assert "E-mail notifications that failed" in page
    assert f"/webhooks/notifications/assignment/{row.pk}/retry/" in page
    assert "BadHeaderError" in page
    # only admins
    for role in ("sales", "marketer"):
        client = client_for(make_user(role))
        assert client.get("/api/handoff/notifications/").status_code == 403
        retried = client.post(f"/api/handoff/notifications/assignment/{row.pk}/retry/")
        assert retried.status_code == 403
    assert signed_in(make_user("sales")).get("/webhooks/").status_code == 403
    # the address is fixed; an admin retries: it goes out
    User.objects.filter(pk=rep.pk).update(email="rep@example.com")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        retried = admin.post(f"/api/handoff/notifications/assignment/{row.pk}/retry/")
    assert retried.status_code == 202, retried.content
    # the answer comes before the try: it is on its way
    assert (retried.json()["status"], retried.json()["next_try_at"]) == ("retrying", None)
    assert [m.to for m in mail.outbox] == [["rep@example.com"]]
    assert Assignment.objects.get().notified_at is not None
    assert admin.get("/api/handoff/notifications/").json() == []
    # nothing left to retry
    again = admin.post(f"/api/handoff/notifications/assignment/{row.pk}/retry/")
    assert again.status_code == 409
    assert "was sent" in again.json()["error"]
    assert admin.post("/api/handoff/notifications/fax/1/retry/").status_code == 404
    assert admin.post("/api/handoff/notifications/sla_breach/999999/retry/").status_code == 404


def test_a_retry_is_one_try_and_a_still_failing_mail_is_failed_again(
    make_user, django_capture_on_commit_callbacks
):
    rep_with_a_broken_address(make_user)
    new_mql(django_capture_on_commit_callbacks)
    row = Assignment.objects.get()
    admin = client_for(make_user("admin"))
    # still being retried by itself: not for an admin to push
    early = admin.post(f"/api/handoff/notifications/assignment/{row.pk}/retry/")
    assert early.status_code == 409
    assert "still tried by itself" in early.json()["error"]
    Assignment.objects.filter(pk=row.pk).update(
        notify_attempts=MAX_ATTEMPTS, notify_failed_at=timezone.now(), notify_retry_at=None
    )
    with django_capture_on_commit_callbacks(execute=True):
        retried = admin.post(f"/api/handoff/notifications/assignment/{row.pk}/retry/")
    assert retried.status_code == 202
    failed = admin.get("/api/handoff/notifications/").json()
    assert [(n["status"], n["attempts"]) for n in failed] == [("failed", MAX_ATTEMPTS + 1)]
    assert notifications_resend(now=timezone.now() + timedelta(days=1)) == 0


def test_the_retry_button_on_the_webhooks_page_sends_it(
    make_user, django_capture_on_commit_callbacks
):
    rep = rep_with_a_broken_address(make_user)
    new_mql(django_capture_on_commit_callbacks)
    row = Assignment.objects.get()
    Assignment.objects.filter(pk=row.pk).update(
        notify_attempts=MAX_ATTEMPTS, notify_failed_at=timezone.now(), notify_retry_at=None
    )
    User.objects.filter(pk=rep.pk).update(email="rep@example.com")
    mail.outbox.clear()
    browser = signed_in(make_user("admin"))
    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post(f"/webhooks/notifications/assignment/{row.pk}/retry/")
    assert (response.status_code, response["Location"]) == (302, "/webhooks/")
    assert [m.to for m in mail.outbox] == [["rep@example.com"]]
    assert "Every notification went out." in browser.get("/webhooks/").content.decode()
