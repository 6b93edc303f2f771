"""In a real browser: an admin moves the policy's own threshold and the simulator follows
(counts and the histogram's threshold line) before anything is saved; the lead page shows
the whole profile and each event's details, a hostile page title as plain text."""

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from handoff.models import LeadView
from handoff.services import mql_qualify, policy_get
from mqlapp.leads.models import Event
from scoring.services import rule_create
from tests.e2e.conftest import requires_chromium, sign_in
from tests.factories import lead_make
from tests.pages.conftest import recycle_with_date

pytestmark = [requires_chromium, pytest.mark.browser, pytest.mark.django_db(transaction=True)]
HOSTILE = "<img src=x onerror=alert(1)>"


def test_an_admin_moves_the_policy_threshold_and_the_simulator_follows(
    browser_page, live_server, make_user
):
    rule_create(
        data={
            "name": "Japan",
            "kind": "fit",
            "conditions": [{"field": "country", "op": "eq", "value": "JP"}],
            "points": 60,
        }
    )
    for i, country in enumerate(("JP", "JP", "US")):
        lead_make(email=f"p{i}@example.co.jp", country=country)
    make_user("admin", username="kimura")
    page = browser_page
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, live_server.url, "kimura", "a-long-test-password")
    page.goto(f"{live_server.url}/policy/")

    slider = page.get_by_label("MQL threshold (slider)")
    box = page.get_by_label("MQL threshold", exact=True)
    expect(slider).to_have_attribute("max", "150")  # scores run 0-60: not 0-500
    expect(page.locator("#sim-would-qualify")).to_have_text("0")  # at the policy's 100
    line = page.locator('[data-testid="threshold-line"] line')
    x_at_100 = float(line.get_attribute("x1"))

    slider.fill("50")  # as a person drags it
    expect(box).to_have_value("50")  # the number box follows the slider
    expect(page.locator("#sim-would-qualify")).to_have_text("2")
    expect(page.locator("#sim-newly-qualified")).to_have_text("2")
    expect(page.locator(".sim-at")).to_contain_text("50")
    x_at_50 = float(page.locator('[data-testid="threshold-line"] line').get_attribute("x1"))
    assert x_at_50 < x_at_100  # the line moved down the score axis with the threshold

    box.fill("70")  # and the slider follows the number box; the simulator again
    expect(slider).to_have_value("70")
    expect(page.locator("#sim-would-qualify")).to_have_text("0")
    expect(page.locator("#backtest-empty")).to_contain_text("No past sales outcomes yet")

    assert page.url == f"{live_server.url}/policy/"  # no navigation, nothing submitted
    assert policy_get().mql_threshold == Decimal(100)  # nothing saved
    assert errors == []


def test_the_lead_page_shows_profile_and_event_details_and_hostile_text_as_text(
    browser_page, live_server, make_user
):
    now = timezone.now()
    lead = lead_make(
        email="yamada@example.co.jp", last_name="山田", first_name="花子", phone="06-0000-1111",
        employees=320, country="JP", industry="物流",
    )  # fmt: skip
    for at, kind, name, props in (
        (now - timedelta(days=2), "page", "", {"url": "https://example.co.jp/a", "title": HOSTILE}),
        (now - timedelta(days=1), "identify", "", {}),
        (now - timedelta(hours=3), "track", "Document Downloaded", {"title": "導入ガイド"}),
    ):
        Event.objects.create(
            message_id=str(uuid.uuid4()), lead_id=lead.pk, anonymous_id="anon-1",
            user_id="yamada@example.co.jp" if kind == "identify" else "", type=kind, name=name,
            properties=props, timestamp=at, received_at=now,
        )  # fmt: skip
    make_user("sales", username="sato")
    page = browser_page
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    sign_in(page, live_server.url, "sato", "a-long-test-password")
    page.goto(f"{live_server.url}/leads/{lead.pk}/")

    expect(page.get_by_test_id("phone")).to_have_text("06-0000-1111")
    expect(page.get_by_test_id("employees")).to_have_text("320")
    expect(page.get_by_test_id("country")).to_have_text("JP")
    expect(page.get_by_test_id("stage")).to_have_text("Nurturing")
    timeline = page.get_by_test_id("timeline")
    expect(timeline).to_contain_text(HOSTILE)  # the title shows as text ...
    assert page.locator("img[src='x']").count() == 0  # ... and no element was made of it
    expect(timeline).to_contain_text("導入ガイド")
    expect(timeline).to_contain_text("https://example.co.jp/a")
    expect(timeline.locator("li.anonymous")).to_have_count(1)
    expect(timeline.locator("li.anonymous")).to_contain_text("Before identification")
    assert dialogs == []


def test_a_rep_rejects_and_recycles_from_the_lead_page_with_labelled_forms(
    browser_page, live_server, make_user
):
    rep = make_user("sales", username="sato")
    leads = []
    for email, last in (("ito@example.co.jp", "伊藤"), ("kato@example.co.jp", "加藤")):
        lead = lead_make(email=email, last_name=last, first_name="一郎", score=Decimal(120))
        assert mql_qualify(lead.pk, score=Decimal(120), reason="threshold", now=timezone.now())
        assert LeadView.objects.get(pk=lead.pk).owner_id == rep.pk
        leads.append(lead)
    page = browser_page
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, live_server.url, "sato", "a-long-test-password")

    # reject: the reason in words, a confirmation, then the lead page says what happened
    page.goto(f"{live_server.url}/leads/{leads[0].pk}/")
    page.get_by_text("Reject…").click()
    form = page.locator("fieldset", has_text="Reject 伊藤 一郎 (disqualify)")
    form.get_by_label("Why reject?").select_option(label="Competitor")
    questions: list[str] = []
    page.once("dialog", lambda d: (questions.append(d.message), d.accept()))
    with page.expect_navigation():
        form.get_by_role("button", name="Reject").click()
    assert len(questions) == 1
    assert questions[0].startswith("Reject 伊藤 一郎?")
    expect(page.get_by_role("status")).to_contain_text("Rejected 伊藤 一郎 (Competitor).")
    expect(page.get_by_test_id("stage")).to_have_text("Disqualified")
    assert page.url == f"{live_server.url}/leads/{leads[0].pk}/"

    # recycle: the date is the rep's choice, not a silent default
    page.goto(f"{live_server.url}/leads/{leads[1].pk}/")
    day = timezone.localdate() + timedelta(days=30)
    recycle_with_date(page, "加藤 一郎", "Bad timing", day)
    expect(page.get_by_role("status")).to_contain_text("Recycled 加藤 一郎")
    after = [LeadView.objects.get(pk=lead.pk) for lead in leads]
    assert (after[0].stage, after[1].stage, after[1].reapproach_on) == (
        "disqualified", "recycled", day,
    )  # fmt: skip
    assert errors == []
