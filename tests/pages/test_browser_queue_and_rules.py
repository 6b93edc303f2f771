"""In a real browser: a rep accepts, rejects (with a reason, confirmed) and recycles (with a
date) from the queue and reads what happened to whom; the countdown ticks. A marketer builds a
rule with the condition builder and sees how many scores the rule would change."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from handoff.models import LeadView
from handoff.services import mql_qualify
from scoring.models import ScoringRule
from tests.e2e.conftest import requires_chromium, sign_in
from tests.factories import lead_make
from tests.pages.conftest import recycle_with_date

pytestmark = [requires_chromium, pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _mql(rep, email, last, first, company):
    lead = lead_make(
        email=email, last_name=last, first_name=first, company=company, score=Decimal(120)
    )
    assert mql_qualify(lead.pk, score=Decimal(120), reason="threshold", now=timezone.now())
    assert LeadView.objects.get(pk=lead.pk).owner_id == rep.pk
    return lead


def test_rep_accepts_rejects_and_recycles_and_sees_who(browser_page, live_server, make_user):
    rep = make_user("sales", username="sato")
    hanako = _mql(rep, "hanako@example.co.jp", "佐藤", "花子", "株式会社サクラ")
    taro = _mql(rep, "taro@example.co.jp", "鈴木", "太郎", "北斗商事株式会社")
    jiro = _mql(rep, "jiro@example.co.jp", "田中", "次郎", "東和工業")
    page = browser_page
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, live_server.url, "sato", "a-long-test-password")
    page.goto(f"{live_server.url}/queue/")

    # the active tab is marked; an owned lead offers no Claim
    expect(page.locator('nav.tabs a[aria-current="page"]')).to_contain_text("All")
    expect(page.get_by_role("button", name="Claim")).to_have_count(0)
    # the countdown ticks (a static script reading data-due)
    countdown = page.locator(".countdown").first
    expect(countdown).to_have_text(re.compile(r"^\d+:\d\d:\d\d left$"))
    first = countdown.text_content()
    expect(countdown).not_to_have_text(first or "", timeout=5000)

    # accept
    with page.expect_navigation():
        page.get_by_role("button", name="Accept 佐藤 花子").click()
    expect(page.get_by_role("status")).to_contain_text("Accepted 佐藤 花子 (株式会社サクラ).")

    # reject: open the labelled form, choose a reason in words, confirm the dialog
    page.get_by_text("Reject…").nth(0).click()
    form = page.locator("fieldset", has_text="Reject 鈴木 太郎 (disqualify)")
    form.get_by_label("Why reject?").select_option(label="No budget")
    form.get_by_label("Note (optional)").fill("予算は来期")
    questions: list[str] = []

    def answer(dialog):
        questions.append(dialog.message)
        dialog.accept()

    page.once("dialog", answer)
    with page.expect_navigation():
        form.get_by_role("button", name="Reject").click()
    assert questions == [
        "Reject 鈴木 太郎? The lead leaves the queue as disqualified; this cannot be undone."
    ]
    expect(page.get_by_role("status")).to_contain_text(
        "Rejected 鈴木 太郎 (北斗商事株式会社) (No budget)."
    )

    # recycle with a date of the rep's choosing
    day = timezone.localdate() + timedelta(days=45)
    recycle_with_date(page, "田中 次郎", "Bad timing", day)
    expect(page.get_by_role("status")).to_contain_text("Recycled 田中 次郎 (東和工業)")
    expect(page.get_by_text("No MQLs waiting.")).to_be_visible()

    after = {lead.pk: LeadView.objects.get(pk=lead.pk) for lead in (hanako, taro, jiro)}
    assert after[hanako.pk].stage == "sal"
    assert after[taro.pk].stage == "disqualified"
    assert (after[jiro.pk].stage, after[jiro.pk].reapproach_on) == ("recycled", day)
    assert errors == []


def test_marketer_builds_a_rule_and_sees_the_impact(browser_page, live_server, make_user):
    for i, country in enumerate(("JP", "JP", "US")):
        lead_make(email=f"m{i}@example.co.jp", country=country)
    make_user("marketer", username="yamada")
    page = browser_page
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, live_server.url, "yamada", "a-long-test-password")
    page.goto(f"{live_server.url}/scoring/rules/new/")

    # behaviour shows the event; fit hides it and the caps, and suggests lead fields
    expect(page.get_by_label("Event name")).to_be_visible()
    page.get_by_label("Rule name").fill("日本企業")
    page.get_by_label("Kind of rule").select_option("fit")
    expect(page.get_by_label("Event name")).to_be_hidden()
    expect(page.get_by_label("Count at most this many events (empty: no limit)")).to_be_hidden()
    expect(page.get_by_label("Field of condition 1")).to_have_attribute("list", "cond-fields-fit")

    page.get_by_label("Field of condition 1").fill("country")
    page.get_by_label("Operator of condition 1").select_option("eq")
    page.get_by_label("Value of condition 1").fill("JP")
    page.get_by_role("button", name="Add condition").click()  # a row added in place
    expect(page.get_by_label("Field of condition 2")).to_be_focused()
    page.get_by_label("Field of condition 2").fill("email_domain")
    page.get_by_label("Operator of condition 2").select_option("endswith")
    page.get_by_label("Value of condition 2").fill(".co.jp")
    page.get_by_label("Points (minus for a penalty)").fill("25")

    with page.expect_navigation():
        page.get_by_role("button", name="Preview the impact").click()
    expect(page.locator("#preview-scores-changed")).to_have_text("2")
    expect(page.locator("#preview-newly-qualified")).to_have_text("0")
    expect(page.locator("#preview-no-longer-qualified")).to_have_text("0")
    assert not ScoringRule.objects.exists()  # a preview saves nothing

    with page.expect_navigation():
        page.get_by_role("button", name="Save").click()
    rule = ScoringRule.objects.get()
    assert rule.conditions == [
        {"field": "country", "op": "eq", "value": "JP"},
        {"field": "email_domain", "op": "endswith", "value": ".co.jp"},
    ]
    expect(page.locator("#rescore-progress")).to_be_visible()

    # delete is confirmed: dismissing the question keeps the rule
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("button", name="Delete 日本企業").click()
    page.wait_for_timeout(300)
    assert ScoringRule.objects.count() == 1
    assert errors == []
