"""Roles, tokens, users and sources (SPEC §2), and the permission matrix of issue 2's endpoints."""

import pytest
from rest_framework.test import APIClient

from mqlapp.leads.models import User
from tests.conftest import basic

pytestmark = pytest.mark.django_db


def test_token_for_username_and_password(make_user):
    make_user("sales", username="rep")
    response = APIClient().post(
        "/api/auth/token/", {"username": "rep", "password": "a-long-test-password"}, format="json"
    )
    assert response.status_code == 200
    token = response.json()["token"]
    me = APIClient()
    me.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert me.get("/api/leads/").status_code == 200


def test_wrong_password_is_400_with_json_error(make_user):
    make_user("sales", username="rep")
    response = APIClient().post(
        "/api/auth/token/", {"username": "rep", "password": "nope"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"] == "wrong username or password"


def test_no_credentials_is_401():
    response = APIClient().get("/api/leads/")
    assert response.status_code == 401
    assert "error" in response.json()


def test_admin_creates_user_in_role_and_marks_away(api):
    admin = api("admin")
    created = admin.post(
        "/api/users/",
        {
            "username": "yamada",
            "password": "another-long-pass",
            "email": "yamada@example.com",
            "role": "sales",
        },
        format="json",
    )
    assert created.status_code == 201
    body = created.json()
    assert body["role"] == "sales"
    assert body["available"] is True
    patched = admin.patch(f"/api/users/{body['id']}/", {"available": False}, format="json")
    assert patched.status_code == 200
    assert patched.json()["available"] is False
    assert User.objects.get(pk=body["id"]).available is False
    assert admin.get(f"/api/users/{body['id']}/").json()["available"] is False


def test_user_create_rejects_unknown_role(api):
    response = api("admin").post(
        "/api/users/",
        {"username": "x", "password": "long-password-1", "role": "boss"},
        format="json",
    )
    assert response.status_code == 400
    assert "role" in response.json()["fields"]


@pytest.mark.parametrize("role", ["marketer", "sales"])
def test_only_admin_manages_users_and_sources(api, role):
    client = api(role)
    assert (
        client.post(
            "/api/users/",
            {"username": "x", "password": "long-password-1", "role": "sales"},
            format="json",
        ).status_code
        == 403
    )
    assert (
        client.post(
            "/api/sources/", {"name": "x", "allowed_origins": []}, format="json"
        ).status_code
        == 403
    )


def test_source_returns_write_key(api):
    response = api("admin").post(
        "/api/sources/", {"name": "Site", "allowed_origins": ["https://a.example"]}, format="json"
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) >= {"id", "name", "write_key"}
    assert body["write_key"].startswith("wk_")


def test_write_key_cannot_read_the_api(source):
    client = APIClient()
    response = client.get("/api/leads/", HTTP_AUTHORIZATION=basic(source.write_key))
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("role", "expected"),
    [("marketer", 201), ("sales", 403), ("admin", 201)],
)
def test_lead_create_matrix(api, role, expected):
    response = api(role).post("/api/leads/", {"email": f"{role}@lead.example"}, format="json")
    assert response.status_code == expected


@pytest.mark.parametrize(
    ("role", "expected"),
    [("marketer", 201), ("sales", 403), ("admin", 201)],
)
def test_rule_write_matrix(api, role, expected):
    rule = {"name": "Visit", "kind": "behavior", "event": "page", "points": 1}
    assert api(role).post("/api/scoring/rules/", rule, format="json").status_code == expected


@pytest.mark.parametrize(
    ("role", "read", "write"),
    [("marketer", 200, 403), ("sales", 200, 403), ("admin", 200, 200)],
)
def test_policy_matrix(api, role, read, write):
    client = api(role)
    assert client.get("/api/handoff/policy/").status_code == read
    assert (
        client.put("/api/handoff/policy/", {"mql_threshold": 50}, format="json").status_code
        == write
    )


@pytest.mark.parametrize(("role", "expected"), [("marketer", 403), ("sales", 200), ("admin", 200)])
def test_queue_matrix(api, role, expected):
    assert api(role).get("/api/handoff/queue/").status_code == expected


def test_lead_patch_cannot_write_score_stage_or_owner(api):
    client = api("marketer")
    lead = client.post("/api/leads/", {"email": "a@b.example"}, format="json").json()
    response = client.patch(
        f"/api/leads/{lead['id']}/",
        {"score": 999, "stage": "won", "owner": 1, "company": "ACME"},
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    assert body["company"] == "ACME"
    assert body["score"] == 0
    assert body["stage"] == "nurturing"
    assert body["owner"] is None
