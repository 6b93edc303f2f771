"""The MQL policy page: everyone reads it, admins save it, marketers and admins simulate."""

from decimal import Decimal

import pytest
from django.utils import timezone

from handoff.services import mql_qualify, policy_get, queue_action
from scoring.services import rule_create
from tests.conftest import signed_in
from tests.factories import lead_make

pytestmark = pytest.mark.django_db


POLICY = {
    "mql_threshold": "60",
    "min_fit": "10",
    "fast_track_events": "Demo Requested, Contact Sales",
    "sla_hours": "8",
    "assignment": "manual",
    "reassign_on_breach": "on",
    "default_recycle_days": "30",
}


@pytest.mark.parametrize(
    ("role", "form", "simulator"),
    [("admin", True, True), ("marketer", False, True), ("sales", False, False)],
)
def test_everyone_sees_the_policy_admins_edit_and_sales_do_not_simulate(
    make_user, role, form, simulator
):
    response = signed_in(make_user(role)).get("/policy/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    page = response.content.decode()
    assert "MQL threshold" in page
    assert ('value="100"' if form else "<dd>100</dd>") in page
    assert ('name="mql_threshold"' in page) is form
    assert ('hx-post="/policy/simulate/"' in page) is simulator
    assert ('id="sim-would-qualify"' in page) is simulator


def test_an_admin_saves_the_policy(make_user):
    client = signed_in(make_user("admin"))
    response = client.post("/policy/", POLICY)
    assert response.status_code == 302
    assert response["Location"] == "/policy/"
    policy = policy_get()
    assert (
        policy.mql_threshold,
        policy.min_fit,
        policy.fast_track_events,
        policy.sla_hours,
        policy.assignment,
        policy.reassign_on_breach,
        policy.default_recycle_days,
    ) == (
        Decimal(60),
        Decimal(10),
        ["Demo Requested", "Contact Sales"],
        Decimal(8),
        "manual",
        True,
        30,
    )
    # an empty minimum fit means none; an unticked box is false
    client.post("/policy/", {**POLICY, "min_fit": "", "reassign_on_breach": ""})
    policy = policy_get()
    assert (policy.min_fit, policy.reassign_on_breach) == (None, False)


def test_a_bad_policy_value_is_shown_and_nothing_changes(make_user):
    client = signed_in(make_user("admin"))
    response = client.post("/policy/", {**POLICY, "sla_hours": "0"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    assert response.context["errors"] == {"sla_hours": ["too small"]}
    assert policy_get().sla_hours == Decimal(24)


@pytest.mark.parametrize("role", ["marketer", "sales"])
def test_only_admins_may_save_the_policy(make_user, role):
    response = signed_in(make_user(role)).post("/policy/", POLICY)
    assert response.status_code == 403
    assert policy_get().mql_threshold == Decimal(100)


def test_the_simulation_partial_counts_histogram_and_backtest(make_user):
    rule_create(
        data={
            "name": "Japan",
            "kind": "fit",
            "conditions": [{"field": "country", "op": "eq", "value": "JP"}],
            "points": 60,
        }
    )
    rep = make_user("sales")
    now = timezone.now()
    accepted = lead_make(email="a@example.co.jp", country="JP", score=60, fit=60)
    rejected = lead_make(email="r@example.co.jp", country="US")
    lead_make(email="n1@example.co.jp", country="JP", score=60, fit=60)
    lead_make(email="n2@example.co.jp", country="US")
    for lead in (accepted, rejected):
        assert mql_qualify(lead.pk, score=lead.score, reason="threshold", now=now)
    queue_action(accepted.pk, "accept", user=rep, data={})
    queue_action(rejected.pk, "reject", user=rep, data={"reason": "no_budget"})

    client = signed_in(make_user("marketer"))
    response = client.post(
        "/policy/simulate/", {"threshold": "50", "min_fit": ""}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 200
    sim = response.context["sim"]
    assert (
        sim["leads_evaluated"],
        sim["would_qualify"],
        sim["newly_qualified"],
        sim["no_longer_qualified"],
    ) == (4, 2, 1, 0)
    assert sim["currently_mql_or_later"] == 1
    assert sim["backtest"]["accepted"] == {"would_qualify": 1, "total": 1}
    assert sim["backtest"]["rejected"] == {"would_qualify": 0, "total": 1}
    chart = sim["chart"]  # the histogram, with the simulated threshold as a line
    assert [(label, int(value)) for label, value in chart.table] == [
        (f"{row['from']:g}–{row['to']:g}", row["count"]) for row in sim["histogram"]
    ]
    assert sum(int(value) for _label, value in chart.table) == 4
    assert chart.threshold["label"] == "MQL threshold 50"
    page = response.content.decode()
    assert "<html" not in page  # a partial
    assert '<dd id="sim-would-qualify">2</dd>' in page
    assert '<svg class="chart"' in page
    assert 'data-testid="threshold-line"' in page
    # above the JP leads' 60 points nobody qualifies; the accepted lead is in sales' hands, so
    # it never counts as "no longer qualified"; a minimum fit above 60 does the same
    high = client.post("/policy/simulate/", {"threshold": "61"}).context["sim"]
    # the accepted lead is in sales' hands: it never counts as "no longer qualified"
    assert (high["would_qualify"], high["no_longer_qualified"]) == (0, 0)
    fit = client.post("/policy/simulate/", {"threshold": "50", "min_fit": "70"}).context["sim"]
    assert fit["would_qualify"] == 0


def test_sales_may_not_simulate(make_user):
    response = signed_in(make_user("sales")).post("/policy/simulate/", {"threshold": "50"})
    assert response.status_code == 403


def _distribution():
    """Fit rules on the leads' own facts: scores 0, 50, 100 and 150 (threshold 100)."""
    rule_create(
        data={
            "name": "Japan",
            "kind": "fit",
            "conditions": [{"field": "country", "op": "eq", "value": "JP"}],
            "points": 50,
        }
    )
    rule_create(
        data={
            "name": "Large company",
            "kind": "fit",
            "conditions": [{"field": "employees", "op": "gte", "value": 500}],
            "points": 100,
        }
    )
    for i, (country, employees) in enumerate((("US", 10), ("JP", 10), ("US", 900), ("JP", 900))):
        lead_make(email=f"d{i}@example.co.jp", country=country, employees=employees)


def test_the_slider_follows_the_scores_not_0_to_500(make_user):
    _distribution()
    page = signed_in(make_user("admin")).get("/policy/").content.decode()
    # scores run 0-150 (histogram up to 160), the threshold is 100: headroom to a round 200
    assert 'id="policy-threshold-range"' in page
    assert 'min="0"' in page
    assert 'max="200"' in page
    assert 'max="500"' not in page


def test_threshold_range_cases():
    from mqlapp.console.pages import threshold_range

    assert threshold_range([], Decimal(100)) == {"min": 0, "max": 150, "step": 1}
    buckets = [{"from": -20.0, "to": -10.0, "count": 1}, {"from": 30.0, "to": 40.0, "count": 2}]
    assert threshold_range(buckets, Decimal(20)) == {"min": -20, "max": 50, "step": 1}
    big = [{"from": 0.0, "to": 5000.0, "count": 3}]
    assert threshold_range(big, Decimal(100)) == {"min": 0, "max": 6500, "step": 100}


def test_one_threshold_for_the_admin_the_policy_form_drives_the_simulator(make_user):
    _distribution()
    client = signed_in(make_user("admin"))
    page = client.get("/policy/").content.decode()
    assert 'id="sim-threshold"' not in page  # no second threshold box
    for field in ("policy-threshold", "policy-threshold-range", "policy-min-fit"):
        start = page.index(f'id="{field}"')
        tag = page[start : page.index(">", start)]
        assert 'hx-post="/policy/simulate/"' in tag, field
        assert 'hx-target="#simulation-result"' in tag, field
    assert 'data-mirror="policy-threshold-range"' in page  # number and slider kept in sync

    # what the policy form sends (mql_threshold, min_fit) is what the simulator answers for
    at_40 = client.post("/policy/simulate/", {"mql_threshold": "40", "min_fit": ""})
    at_120 = client.post("/policy/simulate/", {"mql_threshold": "120", "min_fit": ""})
    assert (at_40.context["sim"]["would_qualify"], at_120.context["sim"]["would_qualify"]) == (3, 1)
    # the threshold line moves with it (a vertical line on the histogram's score axis)
    x40 = at_40.context["sim"]["chart"].threshold["x"]
    x120 = at_120.context["sim"]["chart"].threshold["x"]
    assert x40 < x120
    assert f'x1="{x40}"' in at_40.content.decode()
    assert 'data-testid="threshold-line"' in at_40.content.decode()
    assert policy_get().mql_threshold == Decimal(100)  # nothing saved


def test_an_empty_backtest_says_why(make_user):
    _distribution()
    client = signed_in(make_user("admin"))
    page = client.post("/policy/simulate/", {"mql_threshold": "100"}).content.decode()
    assert "No past sales outcomes yet" in page
    assert '<table class="backtest">' not in page

    lead = lead_make(email="won@example.co.jp", country="JP", employees=900)
    assert mql_qualify(lead.pk, score=Decimal(150), reason="threshold", now=timezone.now())
    queue_action(lead.pk, "accept", user=make_user("sales"), data={})
    page = client.post("/policy/simulate/", {"mql_threshold": "100"}).content.decode()
    assert "No past sales outcomes yet" not in page
    assert '<table class="backtest">' in page
    assert "Accepted" in page  # the outcome in words, not the code


def test_the_empty_backtest_reason_is_in_japanese(make_user):
    client = signed_in(make_user("marketer"), language="ja")
    page = client.post("/policy/simulate/", {"threshold": "100"}).content.decode()
    assert "過去の営業結果がまだありません" in page
