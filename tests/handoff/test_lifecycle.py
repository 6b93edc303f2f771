"""Every allowed and forbidden move: the pure table, then the API (409, 400, 403, history)."""

import datetime as dt
from decimal import Decimal

import pytest

from handoff.lifecycle import OWNED_STAGES, QUEUE_ACTIONS, allowed_actions, transition_target
from handoff.models import LeadView, StageTransition
from tests.conftest import client_for
from tests.factories import lead_make

STAGES = ("nurturing", "mql", "sal", "sql", "won", "lost", "recycled", "disqualified")
# Written out by hand from SPEC §5: (action, from stage) -> to stage; anything else is refused.
ALLOWED = {
    ("claim", "mql"): "mql",
    ("accept", "mql"): "sal",
    ("qualify", "sal"): "sql",
    ("win", "sql"): "won",
    ("lose", "sql"): "lost",
    ("reject", "mql"): "disqualified",
    ("reject", "sal"): "disqualified",
    ("recycle", "mql"): "recycled",
    ("recycle", "sal"): "recycled",
    ("recycle", "sql"): "recycled",
    ("recycle", "lost"): "recycled",
}
CASES = [(a, s) for a in QUEUE_ACTIONS for s in STAGES]
FUTURE = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=30)).isoformat()


def body_for(action):
    if action == "reject":
        return {"reason": "no_budget", "note": "budget frozen until April"}
    if action == "recycle":
        return {"reason": "bad_timing", "note": "call after the merger", "reapproach_on": FUTURE}
    return {}


@pytest.mark.parametrize(("action", "stage"), CASES)
def test_transition_table(action, stage):
    assert transition_target(action, stage) == ALLOWED.get((action, stage))


def test_allowed_actions_per_stage():
    assert allowed_actions("mql") == ["claim", "accept", "reject", "recycle"]
    assert allowed_actions("sal") == ["qualify", "reject", "recycle"]
    assert allowed_actions("sql") == ["win", "lose", "recycle"]
    assert allowed_actions("lost") == ["recycle"]
    assert allowed_actions("won") == []
    assert allowed_actions("nurturing") == []
    assert allowed_actions("disqualified") == []


def test_an_owned_mql_offers_no_claim():
    assert allowed_actions("mql", owned=True) == ["accept", "reject", "recycle"]
    assert allowed_actions("sal", owned=True) == ["qualify", "reject", "recycle"]


@pytest.mark.django_db
@pytest.mark.parametrize(("action", "stage"), CASES)
def test_every_move_through_the_api(action, stage, make_user):
    rep = make_user("sales")
    # a lead in sales' hands (sal, sql, won, lost) is its owner's to move; an ownerless one is
    # no rep's (tests/house/test_page_and_object_access.py)
    owner = rep if stage in OWNED_STAGES else None
    lead = lead_make(
        email="lead@example.co.jp", stage=stage, cycle=1, score=Decimal("72.5"), owner=owner
    )
    response = client_for(rep).post(
        f"/api/handoff/leads/{lead.pk}/{action}/", body_for(action), format="json"
    )
    target = ALLOWED.get((action, stage))
    lead.refresh_from_db()
    if target is None:
        assert response.status_code == 409
        assert response.json()["stage"] == stage
        assert stage in response.json()["error"]
        assert lead.stage == stage
        assert StageTransition.objects.count() == 0
        return
    assert response.status_code == 200, response.content
    assert response.json()["stage"] == target
    assert (lead.stage, lead.owner_id) == (target, rep.pk)
    rows = list(StageTransition.objects.values_list("from_stage", "to_stage", "by", "reason"))
    if action == "claim":
        assert rows == []
    else:
        assert rows == [(stage, target, rep.pk, body_for(action).get("reason", ""))]


@pytest.mark.django_db
@pytest.mark.parametrize("action", ["reject", "recycle"])
@pytest.mark.parametrize("reason", ["", "too_expensive", None])
def test_a_reason_outside_the_list_is_400(action, reason, make_user):
    rep = make_user("sales")
    lead = lead_make(email="a@example.co.jp", stage="mql", owner=rep, cycle=1)
    body = {**body_for(action), "reason": reason}
    response = client_for(rep).post(f"/api/handoff/leads/{lead.pk}/{action}/", body, format="json")
    assert response.status_code == 400
    assert "no_budget" in response.json()["error"]
    assert "reason" in response.json()["fields"]
    lead.refresh_from_db()
    assert lead.stage == "mql"


@pytest.mark.django_db
def test_a_reason_on_lose_must_also_be_known(make_user):
    rep = make_user("sales")
    lead = lead_make(email="a@example.co.jp", stage="sql", owner=rep, cycle=1)
    bad = client_for(rep).post(
        f"/api/handoff/leads/{lead.pk}/lose/", {"reason": "whatever"}, format="json"
    )
    assert bad.status_code == 400
    good = client_for(rep).post(
        f"/api/handoff/leads/{lead.pk}/lose/", {"reason": "competitor"}, format="json"
    )
    assert good.status_code == 200
    assert StageTransition.objects.get().reason == "competitor"


@pytest.mark.django_db
@pytest.mark.parametrize(("action", "stage"), sorted(ALLOWED))
def test_a_rep_acting_on_another_reps_lead_is_403_and_an_admin_may(action, stage, make_user):
    owner, intruder = make_user("sales"), make_user("sales")
    admin = make_user("admin")
    lead = lead_make(email="a@example.co.jp", stage=stage, owner=owner, cycle=1)
    url = f"/api/handoff/leads/{lead.pk}/{action}/"
    refused = client_for(intruder).post(url, body_for(action), format="json")
    assert refused.status_code == 403
    lead.refresh_from_db()
    assert (lead.stage, lead.owner_id) == (stage, owner.pk)
    if action == "claim":  # an owned lead is not claimed again; an admin reassigns with owner
        again = client_for(admin).post(url, {}, format="json")
        assert again.status_code == 409
        return
    done = client_for(admin).post(url, body_for(action), format="json")
    assert done.status_code == 200, done.content
    lead.refresh_from_db()
    assert (lead.stage, lead.owner_id) == (ALLOWED[(action, stage)], owner.pk)


@pytest.mark.django_db
def test_marketers_may_not_act_and_unknown_actions_and_leads_are_404(make_user):
    marketer, rep = make_user("marketer"), make_user("sales")
    lead = lead_make(email="a@example.co.jp", stage="mql", cycle=1)
    assert client_for(marketer).post(f"/api/handoff/leads/{lead.pk}/accept/").status_code == 403
    assert client_for(rep).post(f"/api/handoff/leads/{lead.pk}/promote/").status_code == 404
    assert client_for(rep).post("/api/handoff/leads/999999/accept/").status_code == 404
    assert LeadView.objects.get().stage == "mql"


@pytest.mark.django_db
def test_recycle_validates_the_date(make_user):
    rep = make_user("sales")
    lead = lead_make(email="a@example.co.jp", stage="mql", owner=rep, cycle=1)
    url = f"/api/handoff/leads/{lead.pk}/recycle/"
    client = client_for(rep)
    for bad in ("next spring", "2026-02-30", 20260101):
        response = client.post(url, {"reason": "bad_timing", "reapproach_on": bad}, format="json")
        assert response.status_code == 400
        assert "reapproach_on" in response.json()["fields"]
    assert LeadView.objects.get().stage == "mql"


@pytest.mark.django_db
def test_recycle_to_a_past_date_returns_at_the_next_check(make_user):
    from handoff.services import leads_reapproach_due

    rep = make_user("sales")
    lead = lead_make(email="a@example.co.jp", stage="mql", owner=rep, cycle=1)
    response = client_for(rep).post(
        f"/api/handoff/leads/{lead.pk}/recycle/",
        {"reason": "bad_timing", "reapproach_on": "2020-01-01"},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["stage"] == "recycled"
    assert leads_reapproach_due() == 1
    assert LeadView.objects.get().stage == "nurturing"


@pytest.mark.django_db
def test_history_keeps_from_to_at_by_reason_note_score(make_user):
    rep = make_user("sales")
    lead = lead_make(
        email="a@example.co.jp", stage="mql", owner=rep, cycle=1, score=Decimal("81.25")
    )
    client = client_for(rep)
    client.post(f"/api/handoff/leads/{lead.pk}/accept/")
    client.post(
        f"/api/handoff/leads/{lead.pk}/reject/",
        {"reason": "no_authority", "note": "intern, not the buyer"},
        format="json",
    )
    history = make_user("marketer") and client_for(make_user("marketer")).get(
        f"/api/leads/{lead.pk}/history/"
    )
    rows = history.json()
    for row in rows:
        assert dt.datetime.fromisoformat(row.pop("at"))
    assert rows == [
        {
            "from": "mql",
            "to": "sal",
            "by": rep.username,
            "reason": "",
            "note": "",
            "score": 81.25,
            "cycle": 1,
        },
        {
            "from": "sal",
            "to": "disqualified",
            "by": rep.username,
            "reason": "no_authority",
            "note": "intern, not the buyer",
            "score": 81.25,
            "cycle": 1,
        },
    ]
