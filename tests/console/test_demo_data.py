"""The demo shows the product alive: months of activity and of sales work, every card filled."""

import pytest
from django.db.models import Count
from django.test import Client
from django.utils import timezone

from handoff.lifecycle import Stage
from handoff.models import LeadView, Qualification, SlaBreach, StageTransition
from handoff.simulation import simulation_run
from mqlapp.console.demo import demo_seed

pytestmark = pytest.mark.django_db


def test_demo_data_has_every_stage_and_fills_every_dashboard_card(make_user):
    demo_seed(leads=40)

    now = timezone.now()
    reached = set(StageTransition.objects.values_list("to_stage", flat=True))
    assert reached == {s.value for s in Stage}  # every stage, recycled and back included
    current = set(LeadView.objects.values_list("lifecycle__stage", flat=True))
    for stage in ("nurturing", "mql", "sal", "sql", "won", "lost", "disqualified"):
        assert stage in current
    # months of qualifications, not one burst today
    first = Qualification.objects.order_by("at").first()
    assert (now - first.at).days > 40
    rejected = StageTransition.objects.filter(to_stage=Stage.DISQUALIFIED)
    assert rejected.exclude(reason="").count() == rejected.count() > 0
    assert SlaBreach.objects.exists()

    client = Client()
    client.force_login(make_user("marketer"))
    data = client.get("/", HTTP_ACCEPT_LANGUAGE="en").context["data"]
    weeks = [row["value"] for row in data["mqls_per_week"]]
    assert sum(1 for n in weeks if n) >= 6
    sla = data["sla"]
    assert sla["due"] > 0
    assert 0 < sla["on_time"] < sla["due"]  # SLA met and breached
    assert len(data["rejections"]) >= 3
    for name in ("funnel", "mqls_per_week", "rejections", "scores"):
        assert data["charts"][name], name

    backtest = simulation_run()["backtest"]
    for outcome in ("accepted", "rejected", "won", "lost"):
        assert backtest[outcome]["total"] > 0, outcome
    # events are dated by the months they span; leads by their first event
    spans = LeadView.objects.aggregate(n=Count("pk"))
    assert spans["n"] == 40
    assert LeadView.objects.filter(created_at__lt=now - timezone.timedelta(days=30)).exists()
