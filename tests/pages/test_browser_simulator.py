"""In a real browser, by keyboard: a marketer moves the threshold and the counts follow."""

import pytest
from playwright.sync_api import expect

from scoring.services import rule_create
from tests.e2e.conftest import requires_chromium, sign_in
from tests.factories import lead_make

pytestmark = [requires_chromium, pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_simulator_answers_a_new_threshold_without_a_reload(
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
        lead_make(email=f"b{i}@example.co.jp", country=country)
    make_user("marketer", username="suzuki")

    page = browser_page
    sign_in(page, live_server.url, "suzuki", "a-long-test-password")
    page.get_by_role("link", name="Policy").click()
    page.wait_for_url(f"{live_server.url}/policy/")
    expect(page.locator("#sim-would-qualify")).to_have_text("0")  # at the default 100
    threshold = page.get_by_label("Threshold", exact=True)
    threshold.focus()
    page.keyboard.press("Control+A")
    page.keyboard.type("50")
    page.keyboard.press("Tab")
    expect(page.locator("#sim-would-qualify")).to_have_text("2")
    expect(page.locator("#sim-newly-qualified")).to_have_text("2")
    assert page.url == f"{live_server.url}/policy/"  # no navigation: htmx swapped the partial
