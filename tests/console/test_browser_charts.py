"""In Chromium, ja and en: the lead page's score chart is dated and starts at the first event."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone, translation

from mqlapp.console import charts
from mqlapp.leads.models import Event
from scoring.services import leads_score, rule_create
from tests.e2e.conftest import requires_chromium, sign_in
from tests.factories import lead_make

pytestmark = [requires_chromium, pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("language", ["ja", "en"])
def test_the_lead_chart_is_dated_and_starts_at_the_first_event(
    browser_page, live_server, make_user, language
):
    rule_create(data={"name": "Seminar", "kind": "behavior", "event": "Seminar Attended",
                      "points": 60, "half_life_days": 30})  # fmt: skip
    lead = lead_make(email="dated@example.co.jp", last_name="佐藤", first_name="花子")
    now = timezone.now()
    first = now - timedelta(days=50)
    for at in (first, now - timedelta(days=20)):
        Event.objects.create(
            message_id=str(uuid.uuid4()), lead=lead, type="track", name="Seminar Attended",
            timestamp=at, received_at=at,
        )  # fmt: skip
    leads_score([lead.pk], now=now)
    make_user("sales", username="sato")

    page = browser_page
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, live_server.url, "sato", "a-long-test-password")
    page.context.add_cookies(
        [{"name": "django_language", "value": language, "url": live_server.url}]
    )
    page.goto(f"{live_server.url}/leads/{lead.pk}/")

    chart = page.locator("figure.chart-line svg")
    assert chart.is_visible()
    with translation.override(language):
        start = charts.date_label(first)
        first_row = charts.moment_label(first)
        ticks = [label for _t, label in charts.time_ticks(first, now)]
    # the accessible name says where it starts: the first event's date, in the UI language
    assert start in chart.get_attribute("aria-label")
    # dated axis labels, in the UI language
    labels = chart.locator("text.tick").all_text_contents()
    assert ticks
    assert all(t in labels for t in ticks), (ticks, labels)
    if language == "ja":
        assert "/" in ticks[0]
    else:
        assert any(m in ticks[0] for m in ("Sep", "Oct", "Nov", "Dec", "Jan", "Feb", "Mar", "Apr",
                                           "May", "Jun", "Jul", "Aug"))  # fmt: skip
    # the first dot is the first event, at the left edge; its value shows on hover
    first_dot = chart.locator("circle.dot").first
    assert first_dot.locator("title").text_content().startswith(first_row)
    # the data table (a text alternative) starts at the first event too
    page.locator("details.chart-data summary").first.click()
    assert page.locator("details.chart-data tbody th").first.inner_text() == first_row
    # the threshold line is drawn
    assert chart.locator("[data-testid=threshold-line] line").count() == 1
    assert errors == []
