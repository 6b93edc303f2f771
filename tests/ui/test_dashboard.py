"""The dashboard: funnel, MQLs per week, SLA compliance, rejection reasons, score spread."""

from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from handoff.models import LeadView
from handoff.services import mql_qualify, queue_action
from mqlapp.console import charts
from tests.factories import lead_make

pytestmark = pytest.mark.django_db


def test_dashboard_shows_each_chart_with_known_numbers(make_user):
    rep = make_user("sales")
    now = timezone.now()
    for i, score in enumerate((10, 35, 110, 120, 130)):
        lead_make(email=f"l{i}@x.example", score=score)
    qualified = list(LeadView.objects.filter(scoring__score__gte=100).order_by("pk"))
    for lead in qualified:
        assert mql_qualify(lead.pk, score=lead.score, reason="threshold", now=now)
    queue_action(qualified[0].pk, "accept", user=rep, data={})
    queue_action(qualified[1].pk, "reject", user=rep, data={"reason": "no_budget"})
    queue_action(qualified[2].pk, "reject", user=rep, data={"reason": "no_budget"})

    client = Client()
    client.force_login(make_user("marketer"))
    page = client.get("/", HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    data = page.context["data"]
    reached = {row["code"]: row["value"] for row in data["funnel"]}
    assert reached["mql"] == 3
    assert reached["sal"] == 1
    assert sum(row["value"] for row in data["mqls_per_week"]) == 3
    assert [(r["code"], r["label"], r["value"]) for r in data["rejections"]] == [
        ("no_budget", "No budget", 2)
    ]
    assert ("MQL", 3) in [(row["label"], row["value"]) for row in data["funnel"]]
    scores = {row["label"]: row["value"] for row in data["scores"]}
    assert (scores["0–20"], scores["20–40"], scores["100–120"], scores["120–140"]) == (1, 1, 1, 2)
    text = page.content.decode()
    for title in (
        "Funnel",
        "MQLs per week",
        "SLA compliance",
        "Rejection reasons",
        "Score distribution",
    ):
        assert title in text
    assert data["sla"] == {"due": 3, "breached": 0, "on_time": 3, "rate": 100.0}
    assert text.count("<svg") == 5  # SLA compliance is a number and a chart, as the others


def test_dashboard_on_an_empty_database(make_user):
    client = Client()
    client.force_login(make_user("sales"))
    page = client.get("/", HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    assert Decimal(0) == sum(Decimal(row["value"]) for row in page.context["data"]["funnel"])


def test_lead_page_draws_the_score_over_time_from_the_first_event(make_user):
    import uuid

    from mqlapp.leads.models import Event
    from scoring.models import ScoreHistory
    from scoring.services import leads_score, rule_create

    rule_create(data={"name": "Open", "kind": "behavior", "event": "Email Opened", "points": 10})
    lead = lead_make(email="chart@x.example")
    now = timezone.now()
    for days in (40, 36, 4):  # three opens, spaced in time: 40 and 36 days ago, then 4
        at = now - timezone.timedelta(days=days)
        Event.objects.create(
            message_id=str(uuid.uuid4()), lead=lead, type="track", name="Email Opened",
            timestamp=at, received_at=at,
        )  # fmt: skip
    leads_score([lead.pk], now=now)
    assert ScoreHistory.objects.filter(lead=lead).count() == 1  # stored: only today's point

    client = Client()
    client.force_login(make_user("sales"))
    page = client.get(f"/leads/{lead.pk}/", HTTP_ACCEPT_LANGUAGE="en")
    chart = page.context["score_chart"]
    # one dot per event, placed by time: 4 days of 40 between the first two, not half the width
    left, right = chart.plot["left"], chart.plot["right"]
    xs = [m["x"] for m in chart.marks]
    assert [m["value"] for m in chart.marks] == ["10", "20", "30"]
    assert xs[0] == left
    assert abs((xs[1] - left) / (right - left) - 4 / 40) < 0.01
    assert abs((xs[2] - left) / (right - left) - 36 / 40) < 0.01
    text = page.content.decode()
    assert 'class="chart chart-line"' in text
    assert "MQL threshold 100" in text  # the threshold line, labelled
    assert f"Score over time from {charts.date_label(now - timezone.timedelta(days=40))}" in text
