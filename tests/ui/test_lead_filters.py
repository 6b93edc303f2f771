"""The lead list's filters and ordering (one FilterSet): GET /api/leads/, the CSV export and
the /leads/ page filter alike, and a bad value is a 400 (or an error on the page), never a 500."""

import csv
import io

import pytest

from mqlapp.leads.services import source_create
from tests.conftest import client_for, signed_in
from tests.factories import lead_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def leads(make_user):
    rep = make_user("sales", username="sato")
    other = make_user("sales", username="suzuki")
    fair = source_create(name="Trade fair", allowed_origins=[])
    made = {
        "a": lead_make(email="a@x.example", company="Acme", score=50, stage="mql", owner=rep),
        "b": lead_make(email="b@x.example", last_name="佐藤", score=120, stage="sal", owner=other),
        "c": lead_make(email="c@x.example", company="Beta", score=5, source=fair),
        "d": lead_make(email="d@x.example", company="Acme", score=50, stage="mql"),
    }
    return {"rep": rep, "other": other, "fair": fair, **{k: v.pk for k, v in made.items()}}


def _emails(response):
    assert response.status_code == 200, response.content
    return [row["email"][0] for row in response.json()["results"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["b", "d", "a", "c"]),  # -score, then newest first
        ("stage=mql", ["d", "a"]),
        ("stage=mql,sal", ["b", "d", "a"]),
        ("owner=me", ["a"]),
        ("owner=none", ["d", "c"]),
        ("min_score=50&max_score=100", ["d", "a"]),
        ("min_score=50.5", ["b"]),
        ("search=acme", ["d", "a"]),
        ("search=佐藤", ["b"]),
        ("search=C@X.EXAMPLE", ["c"]),
        ("source=Trade fair", ["c"]),
        ("ordering=company,-score", ["b", "d", "a", "c"]),  # "" < Acme < Beta
        ("ordering=score", ["c", "d", "a", "b"]),
        ("ordering=-last_name, email", ["b", "a", "c", "d"]),
    ],
)
def test_the_api_filters_and_orders(leads, query, expected):
    rep = client_for(leads["rep"])

    assert _emails(rep.get(f"/api/leads/?{query}")) == expected


def test_owner_and_source_take_an_id(leads):
    rep = client_for(leads["rep"])

    assert _emails(rep.get(f"/api/leads/?owner={leads['other'].pk}")) == ["b"]
    assert _emails(rep.get(f"/api/leads/?source={leads['fair'].pk}")) == ["c"]


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("stage=mql,nope", "stage", "unknown stage 'nope'"),
        ("owner=somebody", "owner", "owner must be a user id, 'me' or 'none'"),
        ("min_score=abc", "min_score", "min_score must be a number"),
        ("min_score=NaN", "min_score", "min_score must be a number"),
        ("max_score=Infinity", "max_score", "max_score must be a number"),
        ("max_score=-inf", "max_score", "max_score must be a number"),
        ("min_score=sNaN", "min_score", "min_score must be a number"),
        ("ordering=password", "ordering", "cannot order by 'password'; use one of -company"),
        ("ordering=-score,secret", "ordering", "cannot order by 'secret'"),
    ],
)
def test_a_bad_filter_is_400_naming_it(leads, api, query, field, message):
    lister, exporter = client_for(leads["rep"]), api("marketer")
    for client, path in ((lister, "/api/leads/"), (exporter, "/api/leads/export.csv")):
        response = client.get(f"{path}?{query}")

        assert response.status_code == 400, (path, response.content)
        body = response.json()
        assert body["code"] == "invalid"
        assert body["error"].startswith(message)
        assert list(body["fields"]) == [field]
        assert body["fields"][field][0].startswith(message)


def test_the_export_takes_the_same_filters(leads, api):
    response = api("marketer").get("/api/leads/export.csv?stage=mql&ordering=email")
    body = b"".join(response.streaming_content).decode("utf-8")

    rows = list(csv.DictReader(io.StringIO(body[1:])))
    assert [r["email"] for r in rows] == ["a@x.example", "d@x.example"]


def test_the_page_filters_and_shows_a_bad_filter_instead_of_failing(leads):
    page = signed_in(leads["rep"])

    listed = page.get("/leads/?stage=mql&ordering=email")
    assert listed.status_code == 200
    assert [lead.email for lead in listed.context["page"]] == ["a@x.example", "d@x.example"]
    for query, message in (
        ("min_score=NaN", "min_score must be a number"),
        ("stage=nope", "unknown stage &#x27;nope&#x27;"),
        ("ordering=password", "cannot order by &#x27;password&#x27;"),
    ):
        refused = page.get(f"/leads/?{query}")
        assert refused.status_code == 200
        assert list(refused.context["page"]) == []
        assert f'<p class="error" role="alert">{message}' in refused.content.decode()
