"""The policy: decimals for the SLA, loosening qualifies in the background, raising never
pulls back; the time-based jobs are on beat often enough."""

from datetime import timedelta
from decimal import Decimal

import pytest

from handoff.models import LeadView, Qualification
from handoff.tasks import BEAT
from mqlapp.celery import app
from tests.conftest import client_for

from .conftest import score_all, track

pytestmark = pytest.mark.django_db


def test_admins_write_the_policy_with_decimal_sla_hours(make_user):
    admin = client_for(make_user("admin"))
    body = admin.put(
        "/api/handoff/policy/",
        {"sla_hours": 0.5, "assignment": "manual", "reassign_on_breach": True},
        format="json",
    ).json()
    assert (body["sla_hours"], body["assignment"], body["reassign_on_breach"]) == (
        0.5,
        "manual",
        True,
    )
    for bad in ({"sla_hours": 0}, {"sla_hours": "soon"}, {"assignment": "random"}):
        response = admin.put("/api/handoff/policy/", bad, format="json")
        assert response.status_code == 400, bad
    assert client_for(make_user("sales")).get("/api/handoff/policy/").json()["sla_hours"] == 0.5


def test_raising_the_threshold_never_pulls_an_mql_back(
    ingest, make_user, rules, django_capture_on_commit_callbacks
):
    make_user("sales")
    ingest("/v1/batch", {"batch": track("a@example.co.jp", "Document Downloaded", 3)})
    score_all()
    assert LeadView.objects.get().stage == "mql"
    admin = client_for(make_user("admin"))
    with django_capture_on_commit_callbacks(execute=True):
        admin.put("/api/handoff/policy/", {"mql_threshold": 500}, format="json")
    ingest("/v1/batch", {"batch": track("a@example.co.jp", "Document Downloaded")})
    score_all()
    lead = LeadView.objects.get()
    assert (lead.stage, lead.score) == ("mql", Decimal(80))
    assert Qualification.objects.count() == 1


def test_loosening_min_fit_qualifies_in_the_background(
    ingest, make_user, rules, django_capture_on_commit_callbacks
):
    make_user("sales")
    admin = client_for(make_user("admin"))
    admin.put("/api/handoff/policy/", {"min_fit": 10}, format="json")
    ingest("/v1/batch", {"batch": track("a@example.co.jp", "Document Downloaded", 3)})
    score_all()
    assert LeadView.objects.get().stage == "nurturing"  # score 60, fit 0 < 10
    with django_capture_on_commit_callbacks(execute=True):
        admin.put("/api/handoff/policy/", {"min_fit": None}, format="json")
        assert LeadView.objects.get().stage == "nurturing"  # not in the request: after commit
    lead = LeadView.objects.get()
    assert (lead.stage, lead.cycle) == ("mql", 1)
    assert Qualification.objects.get().score == 60


def test_time_based_jobs_run_often_enough():
    schedule = app.conf.beat_schedule
    for name, every in (
        ("handoff-sla", timedelta(minutes=1)),
        ("handoff-reapproach", timedelta(minutes=1)),
        ("handoff-webhooks", timedelta(seconds=15)),
    ):
        assert schedule[name] == BEAT[name]
        assert BEAT[name]["schedule"] <= every
        assert BEAT[name]["task"] in app.tasks
