"""Each role's main job with the keyboard alone (Tab, typing, Enter; no clicks), found by the
controls' accessible names (labels), not by the page's layout:
- a marketer opens the rules editor and saves a rule;
- a rep accepts an MQL in the queue;
- an admin changes the policy's MQL threshold, and reaches the settings pages.
Rotating a write key asks first. On the sources page the tag's label reads whole and its copy
button copies it."""

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from handoff.models import LeadLifecycle, MqlPolicy
from mqlapp.console.handoff_views import person_name
from mqlapp.leads.models import Source
from scoring.models import ScoringRule
from tests.e2e.conftest import requires_chromium
from tests.ui.conftest import new_page, sign_in_as

pytestmark = [requires_chromium, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The focused element's accessible name, as a screen reader would announce it (near enough).
FOCUSED_NAME = """
() => {
  const el = document.activeElement;
  if (!el || el === document.body) return "";
  const labels = el.labels && el.labels.length ? el.labels[0].textContent : "";
  return (el.getAttribute("aria-label") || labels || el.textContent || "").trim();
}
"""


def tab_to(page: Any, name: str, *, limit: int = 80) -> str:
    """Press Tab until the focused control's name matches `name` (a regex); its name."""
    wanted = re.compile(name, re.IGNORECASE)
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED_NAME)
        if wanted.search(focused):
            return focused
    raise AssertionError(f"no control named like {name!r} within {limit} Tabs")


def test_a_marketer_saves_a_rule_by_keyboard(chromium, live_server, console_site):
    page = new_page(chromium, "en")
    sign_in_as(page, live_server.url, "marketer")
    page.goto(f"{live_server.url}/scoring/rules/")
    tab_to(page, r"^new rule")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    tab_to(page, r"^rule name")
    page.keyboard.type("キーボードで作ったルール")
    tab_to(page, r"^event name")
    page.keyboard.type("Webinar Registered")
    tab_to(page, r"^points")
    page.keyboard.press("Control+A")
    page.keyboard.type("15")
    tab_to(page, r"^save")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    errors = page.locator(".errors, .error").all_inner_texts()
    assert ScoringRule.objects.filter(name="キーボードで作ったルール").exists(), errors
    rule = ScoringRule.objects.get(name="キーボードで作ったルール")
    assert (rule.event, rule.points) == ("Webinar Registered", 15)
    page.context.close()


def test_a_rep_accepts_an_mql_by_keyboard(chromium, live_server, console_site):
    lead = console_site["leads"]["mql"]
    page = new_page(chromium, "en")
    sign_in_as(page, live_server.url, "sales")
    page.goto(f"{live_server.url}/queue/")
    # the Accept button names its lead (family name first, as the queue shows it)
    tab_to(page, rf"^accept\b.*{re.escape(person_name(lead))}")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert LeadLifecycle.objects.get(lead_id=lead.pk).stage == "sal"
    page.context.close()


def test_an_admin_changes_the_threshold_by_keyboard(chromium, live_server, console_site):
    page = new_page(chromium, "en")
    sign_in_as(page, live_server.url, "admin")
    page.goto(f"{live_server.url}/policy/")
    tab_to(page, r"^mql threshold$")  # the number box (the slider beside it moves with it)
    page.keyboard.press("Control+A")
    page.keyboard.type("85")
    tab_to(page, r"^save")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert MqlPolicy.objects.get().mql_threshold == 85
    page.context.close()


def test_the_sources_tag_label_reads_whole_and_the_tag_copies(chromium, live_server, console_site):
    page = new_page(chromium, "ja")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    sign_in_as(page, live_server.url, "admin")
    page.goto(f"{live_server.url}/sources/")
    tag = page.get_by_label("トラッキングタグ（</body> の直前に貼り付け）")
    expect(tag).to_be_visible()
    button = page.get_by_role("button", name="タグをコピー")
    button.focus()
    page.keyboard.press("Enter")  # the copy button works from the keyboard too
    expect(page.get_by_role("status").filter(has_text="コピーしました")).to_be_visible()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == tag.input_value()
    assert "<script" in copied
    page.context.close()


def test_an_admin_reaches_the_settings_pages_by_keyboard(chromium, live_server, console_site):
    page = new_page(chromium, "en")
    sign_in_as(page, live_server.url, "admin")
    page.goto(f"{live_server.url}/leads/")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.locator('[aria-current="page"]')).to_have_text("Leads")  # where you are
    tab_to(page, r"^Settings$")
    page.keyboard.press("Enter")  # opens the menu
    webhooks = nav.get_by_role("link", name="Webhooks")
    expect(webhooks).to_be_visible()
    page.keyboard.press("Escape")  # closes it, focus back on Settings
    expect(webhooks).to_be_hidden()
    assert page.evaluate(FOCUSED_NAME) == "Settings"
    page.keyboard.press("Enter")
    tab_to(page, r"^Webhooks$")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url == f"{live_server.url}/webhooks/"
    expect(nav.locator('summary[aria-current="page"]')).to_have_text("Settings")
    page.context.close()


def test_rotating_a_write_key_asks_first(chromium, live_server, console_site):
    source = Source.objects.order_by("id").first()
    assert source is not None
    old_key = source.write_key
    page = new_page(chromium, "en")
    sign_in_as(page, live_server.url, "admin")
    page.goto(f"{live_server.url}/sources/")
    questions: list[str] = []
    page.once("dialog", lambda d: (questions.append(d.message), d.dismiss()))
    page.get_by_role("button", name="Rotate write key").first.click()
    page.wait_for_timeout(300)
    source.refresh_from_db()
    assert source.write_key == old_key  # dismissed: nothing changed
    assert questions == [
        f"Issue a new write key for “{source.name}”? The old key stops working at once: every "
        "site or server sending with it must be updated."
    ]
    page.once("dialog", lambda d: d.accept())
    with page.expect_navigation():
        page.get_by_role("button", name="Rotate write key").first.click()
    source.refresh_from_db()
    assert source.write_key != old_key
    page.context.close()
