"""Funnel and rejection reports on a known set of leads, with hand-computed numbers."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from handoff.models import LeadLifecycle, LeadView, StageTransition
from mqlapp.leads.models import Source
from tests.conftest import client_for
from tests.factories import lead_make

pytestmark = pytest.mark.django_db
JST = ZoneInfo("Asia/Tokyo")


def at(month, day, hour):
    return datetime(2026, month, day, hour, tzinfo=JST)


def lead(name, created, source, *moves):
    """A lead created at `created`, then moved through (stage, time, reason) in order."""
    row = lead_make(email=f"{name}@example.co.jp", source=source)
    LeadView.objects.filter(pk=row.pk).update(created_at=created)
    stage = "nurturing"
    for to, when, reason in moves:
        StageTransition.objects.create(
            lead=row, from_stage=stage, to_stage=to, at=when, reason=reason, score=80, cycle=1
        )
        stage = to
    LeadLifecycle.objects.filter(lead_id=row.pk).update(stage=stage)
    return row


@pytest.fixture
def history(db):
    web = Source.objects.create(name="Web")
    expo = Source.objects.create(name="Expo")
    lead("l1", at(4, 1, 10), web,
         ("mql", at(4, 2, 10), "threshold"), ("sal", at(4, 2, 14), ""),
         ("sql", at(4, 4, 14), ""), ("won", at(4, 10, 14), ""))  # fmt: skip
    lead("l2", at(4, 1, 10), web,
         ("mql", at(4, 3, 10), "threshold"), ("sal", at(4, 3, 12), ""),
         ("disqualified", at(4, 5, 12), "no_budget"))  # fmt: skip
    lead("l3", at(4, 1, 10), web,
         ("mql", at(4, 5, 10), "fast_track"),
         ("disqualified", at(4, 5, 16), "no_need"))  # fmt: skip
    lead("l4", at(4, 1, 10), web)
    lead("l5", at(4, 1, 10), expo,
         ("mql", at(4, 2, 10), "threshold"), ("sal", at(4, 2, 11), ""),
         ("sql", at(4, 3, 11), ""), ("lost", at(4, 6, 11), "competitor"))  # fmt: skip
    # created and qualified in March: only its April moves count
    lead("l6", at(3, 1, 10), web,
         ("mql", at(3, 10, 10), "threshold"), ("sal", at(4, 2, 10), ""),
         ("disqualified", at(4, 3, 10), "no_authority"))  # fmt: skip
    lead("l7", at(5, 1, 10), web, ("mql", at(5, 2, 10), "threshold"))  # May: outside
    lead("l8", at(4, 20, 10), web,
         ("mql", at(4, 21, 10), "threshold"),
         ("recycled", at(4, 21, 12), "bad_timing"))  # fmt: skip
    return web, expo


def stage_rows(body):
    return {
        s["stage"]: (s["reached"], s["converted"], s["conversion"], s["median_hours_in_stage"])
        for s in body["stages"]
    }


def test_funnel_for_april(history, make_user):
    body = client_for(make_user("marketer")).get(
        "/api/reports/funnel/?from=2026-04-01&to=2026-04-30"
    )
    assert body.status_code == 200
    assert stage_rows(body.json()) == {
        # created in April: l1-l5, l8; on to mql: all but l4; hours: 24, 48, 96, 24, 24
        "nurturing": (6, 5, 0.8333, 24.0),
        # entered mql in April: l1, l2, l3, l5, l8 (l6 in March); accepted: l1, l2, l5
        # hours in mql: 4, 2, 6, 1, 2
        "mql": (5, 3, 0.6, 2.0),
        # l1, l2, l5, l6; to sql: l1, l5; hours: 48, 48, 24, 24
        "sal": (4, 2, 0.5, 36.0),
        # l1, l5; won: l1; hours: 144, 72
        "sql": (2, 1, 0.5, 108.0),
        "won": (1, None, None, None),
    }
    assert body.json()["outcomes"] == {"lost": 1, "disqualified": 3, "recycled": 1}
    assert body.json()["from"] == "2026-04-01T00:00:00+09:00"
    assert body.json()["to"] == "2026-05-01T00:00:00+09:00"


def test_funnel_counts_conversions_after_the_period_and_filters_by_source(history, make_user):
    client = client_for(make_user("sales"))
    early = client.get("/api/reports/funnel/?from=2026-04-01&to=2026-04-09").json()
    # l1 is won on the 10th: sql still converts, but nobody reached won by the 9th
    assert stage_rows(early)["sql"] == (2, 1, 0.5, 108.0)
    assert stage_rows(early)["won"] == (0, None, None, None)
    _, expo = history
    only_expo = client.get(f"/api/reports/funnel/?from=2026-04-01&to=2026-04-30&source={expo.pk}")
    assert stage_rows(only_expo.json()) == {
        "nurturing": (1, 1, 1.0, 24.0),
        "mql": (1, 1, 1.0, 1.0),
        "sal": (1, 1, 1.0, 24.0),
        "sql": (1, 0, 0.0, 72.0),
        "won": (0, None, None, None),
    }
    assert only_expo.json()["outcomes"] == {"lost": 1, "disqualified": 0, "recycled": 0}


def test_funnel_without_a_period_counts_everything(history, make_user):
    body = client_for(make_user("admin")).get("/api/reports/funnel/").json()
    rows = stage_rows(body)
    assert rows["nurturing"][:2] == (8, 7)
    assert rows["mql"][:2] == (7, 4)  # l1, l2, l3, l5, l6, l7, l8; accepted: l1, l2, l5, l6


def test_rejections_by_reason(history, make_user):
    body = (
        client_for(make_user("marketer"))
        .get("/api/reports/rejections/?from=2026-04-01&to=2026-04-30")
        .json()
    )
    assert body["total"] == 3
    assert body["reasons"] == [
        {"reason": "no_authority", "count": 1},
        {"reason": "no_budget", "count": 1},
        {"reason": "no_need", "count": 1},
    ]
    assert body["recycle_reasons"] == [{"reason": "bad_timing", "count": 1}]
    assert body["recycled_total"] == 1
    may = client_for(make_user("marketer")).get("/api/reports/rejections/?from=2026-05-01").json()
    assert (may["total"], may["reasons"]) == (0, [])


@pytest.mark.parametrize(
    "query",
    ["from=yesterday", "to=2026-13-01", "source=web", "from=2026-05-01&to=2026-04-01"],
)
def test_bad_report_parameters_are_400(query, make_user):
    client = client_for(make_user("marketer"))
    for path in ("/api/reports/funnel/", "/api/reports/rejections/"):
        response = client.get(f"{path}?{query}")
        assert response.status_code == 400
        assert response.json()["fields"]


def test_reports_need_a_login(db):
    from rest_framework.test import APIClient

    assert APIClient().get("/api/reports/funnel/").status_code == 401
