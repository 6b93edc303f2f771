"""The dashboard: funnel, MQLs per week, SLA compliance, rejection reasons, score spread."""

from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from handoff.models import LeadView
from handoff.services import mql_qualify, queue_action
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
    assert text.count("<svg") == 4  # SLA compliance is a number, the rest are bar charts


def test_dashboard_on_an_empty_database(make_user):
    client = Client()
    client.force_login(make_user("sales"))
    page = client.get("/", HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    assert Decimal(0) == sum(Decimal(row["value"]) for row in page.context["data"]["funnel"])


def test_lead_page_draws_the_score_over_time(make_user):
    from scoring.models import ScoreHistory

    lead = lead_make(email="chart@x.example", score=30)
    now = timezone.now()
    for minutes, score in ((30, 10), (20, 25), (10, 30)):
        ScoreHistory.objects.create(
            lead=lead,
            at=now - timezone.timedelta(minutes=minutes),
            score=score,
            engagement=score,
            fit=0,
        )
    client = Client()
    client.force_login(make_user("sales"))
    page = client.get(f"/leads/{lead.pk}/", HTTP_ACCEPT_LANGUAGE="en")
    chart = page.context["score_chart"]
    # three points, step-wise: 10 holds until 25, which holds until 30 (x = 0, 150, 300)
    assert chart["points"] == "0.0,53.3 150.0,53.3 150.0,13.3 300.0,13.3 300.0,0.0"
    assert "<polyline" in page.content.decode()
