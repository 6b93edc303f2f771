"""Assignment: round robin over available reps, weights, caps, territories, the manual pool."""

import itertools
from decimal import Decimal

import pytest
from django.utils import timezone

from handoff.models import Assignment, LeadView, Qualification
from handoff.services import mql_qualify, policy_update
from tests.conftest import client_for
from tests.factories import lead_make

pytestmark = pytest.mark.django_db
NUMBERS = itertools.count()


def qualify_new(n, **fields):
    """n new nurturing leads qualified in order; returns them fresh from the database."""
    ids = []
    for _ in range(n):
        lead = lead_make(email=f"lead{next(NUMBERS)}@example.co.jp", **fields)
        assert mql_qualify(lead.pk, score=Decimal(80), reason="threshold", now=timezone.now())
        ids.append(lead.pk)
    return [LeadView.objects.get(pk=pk) for pk in ids]


def test_round_robin_over_three_reps_with_one_away_gives_three_each(make_user):
    a, away, c = make_user("sales"), make_user("sales", available=False), make_user("sales")
    leads = qualify_new(6)
    assert [lead.owner_id for lead in leads] == [a.pk, c.pk, a.pk, c.pk, a.pk, c.pk]
    assert away.pk not in {lead.owner_id for lead in leads}
    assert list(Assignment.objects.values_list("why", flat=True)) == ["round_robin"] * 6
    assert [q.owner_id for q in Qualification.objects.order_by("id")] == [
        a.pk,
        c.pk,
        a.pk,
        c.pk,
        a.pk,
        c.pk,
    ]


def test_a_rep_back_from_away_joins_the_rotation_without_being_flooded(make_user):
    a, b = make_user("sales"), make_user("sales", available=False)
    qualify_new(4)  # all to a while b is away
    b.available = True
    b.save()
    leads = qualify_new(4)
    # b starts at the current virtual time (a tie with a, broken by id): turns, not a flood
    assert [lead.owner_id for lead in leads] == [a.pk, b.pk, a.pk, b.pk]


def test_weights_split_two_to_one(make_user):
    heavy, light = make_user("sales"), make_user("sales")
    admin = client_for(make_user("admin"))
    assert (
        admin.patch(f"/api/handoff/reps/{heavy.pk}/", {"weight": 2}, format="json").status_code
        == 200
    )
    leads = qualify_new(6)
    owners = [lead.owner_id for lead in leads]
    assert owners == [heavy.pk, light.pk, heavy.pk, heavy.pk, light.pk, heavy.pk]


def test_a_cap_on_open_mqls_skips_a_full_rep_and_the_pool_takes_the_rest(make_user):
    a, b = make_user("sales"), make_user("sales")
    admin = client_for(make_user("admin"))
    admin.patch(f"/api/handoff/reps/{a.pk}/", {"max_open_mqls": 1}, format="json")
    admin.patch(f"/api/handoff/reps/{b.pk}/", {"max_open_mqls": 2}, format="json")
    leads = qualify_new(4)
    assert [lead.owner_id for lead in leads] == [a.pk, b.pk, b.pk, None]
    # accepting frees a slot: an accepted lead is no longer an open MQL
    assert client_for(a).post(f"/api/handoff/leads/{leads[0].pk}/accept/").status_code == 200
    assert [lead.owner_id for lead in qualify_new(1)] == [a.pk]


def test_territories_by_country_and_employees_band(make_user):
    japan_large, japan_small, rest = (make_user("sales") for _ in range(3))
    admin = client_for(make_user("admin"))
    admin.patch(
        f"/api/handoff/reps/{japan_large.pk}/",
        {"territories": [{"countries": ["JP"], "employees_min": 1000}]},
        format="json",
    )
    admin.patch(
        f"/api/handoff/reps/{japan_small.pk}/",
        {"territories": [{"countries": ["jp"], "employees_max": 999}]},
        format="json",
    )
    big = qualify_new(2, country="JP", employees=5000)
    small = qualify_new(1, country="JP", employees=50)
    unknown_size = qualify_new(1, country="JP")
    abroad = qualify_new(2, country="US", employees=5000)
    assert [lead.owner_id for lead in big] == [japan_large.pk, japan_large.pk]
    assert [lead.owner_id for lead in small] == [japan_small.pk]
    # nobody's territory covers it: the reps without territories take it
    assert [lead.owner_id for lead in unknown_size] == [rest.pk]
    assert [lead.owner_id for lead in abroad] == [rest.pk, rest.pk]


def test_manual_assignment_leaves_mqls_in_the_pool_for_reps_to_claim(make_user):
    rep, other = make_user("sales"), make_user("sales")
    policy_update(data={"assignment": "manual"})
    lead = qualify_new(1)[0]
    assert lead.owner_id is None
    assert [i["id"] for i in client_for(other).get("/api/handoff/queue/").json()] == [lead.pk]
    claimed = client_for(rep).post(f"/api/handoff/leads/{lead.pk}/claim/")
    assert claimed.status_code == 200
    assert claimed.json()["owner"] == rep.pk
    assert claimed.json()["stage"] == "mql"
    # now it is rep's: gone from the other rep's queue, and a second claim is refused
    assert client_for(other).get("/api/handoff/queue/").json() == []
    assert client_for(other).post(f"/api/handoff/leads/{lead.pk}/claim/").status_code == 403
    assert client_for(rep).post(f"/api/handoff/leads/{lead.pk}/claim/").status_code == 409
    assert list(Assignment.objects.values_list("user", "why", "notify")) == [
        (rep.pk, "claim", False)
    ]


def test_an_admin_assigns_an_mql_to_a_rep_with_claim_owner(make_user):
    rep, other = make_user("sales"), make_user("sales")
    admin = make_user("admin")
    policy_update(data={"assignment": "manual"})
    lead = qualify_new(1)[0]
    url = f"/api/handoff/leads/{lead.pk}/claim/"
    assert client_for(admin).post(url, {"owner": rep.pk}, format="json").status_code == 200
    assert client_for(admin).post(url, {"owner": other.pk}, format="json").status_code == 200
    assert client_for(admin).post(url, {"owner": admin.pk}, format="json").status_code == 400
    assert client_for(rep).post(url, {"owner": rep.pk}, format="json").status_code == 403
    assert LeadView.objects.get().owner_id == other.pk
    assert list(Assignment.objects.values_list("user", "why", "by")) == [
        (rep.pk, "admin", admin.pk),
        (other.pk, "admin", admin.pk),
    ]


def test_no_available_rep_leaves_the_mql_in_the_pool(make_user):
    make_user("sales", available=False)
    lead = qualify_new(1)[0]
    assert (lead.stage, lead.owner_id) == ("mql", None)
    assert Qualification.objects.get().owner_id is None


def test_reps_api_lists_settings_and_validates(make_user):
    rep = make_user("sales", username="sato")
    make_user("marketer")
    admin = client_for(make_user("admin"))
    rows = admin.get("/api/handoff/reps/").json()
    assert rows == [
        {
            "id": rep.pk,
            "username": "sato",
            "email": "sato@example.com",
            "available": True,
            "weight": 1,
            "max_open_mqls": None,
            "territories": [],
            "open_mqls": 0,
        }
    ]
    url = f"/api/handoff/reps/{rep.pk}/"
    for bad in (
        {"weight": 0},
        {"weight": "2"},
        {"max_open_mqls": -1},
        {"territories": [{"country": "JP"}]},
        {"territories": "JP"},
        {"available": "no"},
    ):
        response = admin.patch(url, bad, format="json")
        assert response.status_code == 400, bad
        assert response.json()["fields"]
    ok = admin.patch(url, {"weight": 3, "available": False}, format="json").json()
    assert (ok["weight"], ok["available"]) == (3, False)
    assert admin.get("/api/handoff/reps/999999/").status_code == 404
    assert client_for(rep).get("/api/handoff/reps/").status_code == 403
    assert client_for(rep).patch(url, {"weight": 5}, format="json").status_code == 403
