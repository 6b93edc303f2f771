"""Handoff pages: the queue (overdue, reject, recycle), re-approach list, webhooks with log."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from handoff.models import LeadView, Webhook
from tests.factories import lead_make

pytestmark = pytest.mark.django_db


def browser(user):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


def test_queue_page_marks_overdue_and_offers_reject_and_recycle(make_user):
    rep = make_user("sales")
    late = lead_make(
        email="late@example.co.jp", stage="mql", owner=rep, cycle=1,
        sla_due_at=timezone.now() - timedelta(hours=1),
    )  # fmt: skip
    lead_make(
        email="fresh@example.co.jp", stage="mql", cycle=1,
        sla_due_at=timezone.now() + timedelta(hours=5),
    )  # fmt: skip
    page = browser(rep).get("/queue/").content.decode()
    assert page.count("Overdue") == 1
    assert page.index("late@example.co.jp") < page.index("fresh@example.co.jp")
    assert "Reject" in page
    assert "Recycle" in page
    assert "Claim" in page
    mine = browser(rep).get("/queue/?show=mine").content.decode()
    assert "late@example.co.jp" in mine
    assert "fresh@example.co.jp" not in mine
    response = browser(rep).post(
        f"/leads/{late.pk}/reject/", {"reason": "no_need", "next": "/queue/"}
    )
    assert response.status_code == 302
    assert LeadView.objects.get(pk=late.pk).stage == "disqualified"
    assert browser(make_user("marketer")).get("/queue/").status_code == 403


def test_reapproach_page_lists_recycled_leads_back_in_nurturing(make_user):
    lead_make(
        email="back@example.co.jp", stage="nurturing", cycle=1,
        reapproach_on=timezone.localdate(),
    )  # fmt: skip
    lead_make(email="new@example.co.jp")
    page = browser(make_user("marketer")).get("/reapproach/").content.decode()
    assert "back@example.co.jp" in page
    assert "new@example.co.jp" not in page


def test_webhooks_page_is_for_admins_and_shows_the_secret(make_user, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = False
    admin = browser(make_user("admin"))
    refused = admin.post("/webhooks/", {"url": "http://127.0.0.1/x", "events": ["lead.mql"]})
    assert refused.status_code == 200
    assert "url refused" in refused.content.decode()
    saved = admin.post("/webhooks/", {"url": "https://93.184.216.34/x", "events": ["lead.mql"]})
    hook = Webhook.objects.get()
    assert saved.status_code == 302
    assert saved["Location"] == f"/webhooks/{hook.pk}/"
    detail = admin.get(f"/webhooks/{hook.pk}/").content.decode()
    assert hook.secret in detail
    assert "Delivery log" in detail
    assert browser(make_user("sales")).get("/webhooks/").status_code == 403
    assert browser(make_user("marketer")).get(f"/webhooks/{hook.pk}/").status_code == 403
