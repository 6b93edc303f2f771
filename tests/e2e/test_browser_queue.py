"""In a real browser: a rep signs in, sees the MQL in the queue, accepts it with one click."""

from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from handoff.models import LeadView
from handoff.services import mql_qualify
from tests.e2e.conftest import requires_chromium, sign_in
from tests.factories import lead_make

pytestmark = [requires_chromium, pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_rep_accepts_an_mql_from_the_queue(browser_page, live_server, make_user):
    rep = make_user("sales", username="sato")
    lead = lead_make(
        email="hanako@example.co.jp",
        last_name="佐藤",
        first_name="花子",
        company="株式会社サクラ",
        score=120,
    )
    assert mql_qualify(lead.pk, score=Decimal(120), reason="threshold", now=timezone.now())
    assert LeadView.objects.get(pk=lead.pk).owner_id == rep.pk

    page = browser_page
    sign_in(page, live_server.url, "sato", "a-long-test-password")
    page.get_by_role("link", name="Queue").click()
    page.wait_for_url(f"{live_server.url}/queue/")
    expect(page.get_by_text("hanako@example.co.jp")).to_be_visible()
    # the POST redirects back to the queue: wait for that navigation, not the current URL
    with page.expect_navigation():
        page.get_by_role("button", name="Accept").first.click()
    expect(page.get_by_text("No MQLs waiting.")).to_be_visible()
    assert LeadView.objects.get(pk=lead.pk).stage == "sal"

    page.goto(f"{live_server.url}/leads/{lead.pk}/")
    expect(page.get_by_test_id("stage")).to_have_text("SAL (accepted)")
    expect(page.get_by_role("button", name="Qualify")).to_be_visible()
