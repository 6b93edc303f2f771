"""Schemathesis against /api/schema/ with an admin's token: for every operation, generated
requests (valid and invalid, JSON, form and multipart bodies, odd path and query values) get
no 5xx and no answer the schema does not describe (status code, content type, headers, body).

Every operation of the schema is exercised; none is excluded. Path ids that are well-formed
integers are pointed at objects that exist, so bodies reach the serializers and services
instead of stopping at a 404; other generated ids (negative, text, odd characters) are sent as
they are. Destructive operations (DELETE of a rule or webhook, erasing a lead) run too: each
operation is its own test with its own database transaction, so a deletion only makes the
later examples of that one operation answer 404 — which is in the schema as well."""

import re
from collections.abc import Callable, Iterable
from typing import Any

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from handoff.models import Webhook
from mqlapp.leads.models import Form, ImportJob
from scoring.models import RescoreJob, ScoringRule
from tests.conftest import client_for
from tests.factories import lead_make

# Fuzzing phase examples per operation (the coverage phase adds its own boundary cases).
EXAMPLES = 15
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


class _TestWSGIHandler(WSGIHandler):
    """Django's WSGI app run as Django's test client runs it: the connection is not closed
    at the end of a request, so every request runs inside the test's transaction."""

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request_started.disconnect(close_old_connections)
        request_finished.disconnect(close_old_connections)
        try:
            return super().__call__(environ, start_response)
        finally:
            request_started.connect(close_old_connections)
            request_finished.connect(close_old_connections)


schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", _TestWSGIHandler())


@pytest.fixture
def admin_token(make_user: Callable[..., Any]) -> str:
    return Token.objects.get_or_create(user=make_user("admin"))[0].key


@pytest.fixture
def existing_ids(make_user: Callable[..., Any]) -> dict[str, int]:
    """An object of each kind a path id names, keyed by the path that names it."""
    rep = make_user("sales")
    return {
        "/api/leads/": lead_make(email="fuzz@example.co.jp", stage="mql", cycle=1).pk,
        "/api/handoff/leads/": lead_make(email="queue@example.co.jp", stage="mql", cycle=1).pk,
        "/api/users/": make_user("marketer").pk,
        "/api/handoff/reps/": rep.pk,
        "/api/forms/": Form.objects.create(name="Whitepaper", slug="whitepaper").pk,
        "/api/imports/": ImportJob.objects.create(sha256="0" * 64).pk,
        "/api/scoring/rules/": ScoringRule.objects.create(
            name="Pricing", event="Document Downloaded", points=10
        ).pk,
        "/api/scoring/rescore/": RescoreJob.objects.create().pk,
        "/api/webhooks/": Webhook.objects.create(url="https://hooks.example.com/", secret="s").pk,
    }


def _point_at_existing(case: Any, ids: dict[str, int]) -> None:
    path_ids = case.path_parameters or {}
    if isinstance(path_ids.get("id"), int) and not isinstance(path_ids["id"], bool):
        prefix = next((p for p in ids if case.path.startswith(p)), None)
        if prefix is not None:
            path_ids["id"] = ids[prefix]


def _operations(paths: Iterable[str]) -> list[str]:
    return sorted(p for p in paths if re.match(r"^/api/", p))


def test_the_schema_under_fuzz_is_the_whole_api():
    # every operation of /api/schema/ is parametrised below (nothing filtered out)
    raw = schema.raw_schema["paths"]
    assert _operations(raw) == sorted(raw)
    assert len(raw) >= 35


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_no_operation_answers_5xx_or_outside_the_schema(
    case: Any, admin_token: str, existing_ids: dict[str, int]
) -> None:
    _point_at_existing(case, existing_ids)
    response = case.call(headers={"Authorization": f"Token {admin_token}"})
    case.validate_response(response, checks=CHECKS)


# --- the 5xx the fuzz found, each pinned as a plain example ----------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        ["admin", "a-long-test-password"],  # a JSON list
        7,
        {"username": "ad\x00min", "password": "x"},  # NUL: PostgreSQL refuses it in text
    ],
)
def test_a_token_request_that_is_not_an_object_of_strings_is_400(body):
    answer = APIClient().post("/api/auth/token/", body, format="json")
    assert answer.status_code == 400
    assert answer.json()["code"] == "invalid"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "Whitepaper", "slug": "s" * 101}, "slug"),
        ({"name": "w" * 150}, "slug"),  # no slug: the one made from the name is too long too
    ],
)
def test_a_form_slug_past_its_column_is_400(api, body, field):
    answer = api("marketer").post("/api/forms/", body, format="json")
    assert answer.status_code == 400
    assert field in answer.json()["fields"]
    assert not Form.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        {"mql_threshold": 1e16},
        {"mql_threshold": -1e10},
        {"min_fit": 12345678901},
        {"sla_hours": 1_000_000},
        {"sla_hours": 3.7e16},
        {"default_recycle_days": 2**31},
    ],
)
def test_a_policy_number_past_its_column_is_400(api, body):
    answer = api("admin").put("/api/handoff/policy/", body, format="json")
    assert answer.status_code == 400
    assert list(answer.json()["fields"]) == list(body)
    assert api("admin").get("/api/handoff/policy/").json()["mql_threshold"] == 100.0


@pytest.mark.django_db
def test_the_largest_policy_numbers_that_fit_are_kept(api):
    body = {"mql_threshold": 9_999_999_999.99, "sla_hours": 999_999.99}
    answer = api("admin").put("/api/handoff/policy/", body, format="json")
    assert answer.status_code == 200
    assert (answer.json()["mql_threshold"], answer.json()["sla_hours"]) == (
        9_999_999_999.99,
        999_999.99,
    )


@pytest.mark.django_db
def test_numbers_past_an_integer_column_are_400(api, make_user):
    admin = api("admin")
    lead = lead_make(email="big@example.co.jp")
    rep = make_user("sales")
    too_big = 2**31
    assert admin.post("/api/leads/", {"employees": too_big}, format="json").status_code == 400
    patched = admin.patch(f"/api/leads/{lead.pk}/", {"employees": too_big}, format="json")
    assert patched.status_code == 400
    assert "employees" in patched.json()["fields"]
    capped = admin.patch(f"/api/handoff/reps/{rep.pk}/", {"max_open_mqls": too_big}, format="json")
    assert capped.status_code == 400
    assert (
        admin.patch(f"/api/leads/{lead.pk}/", {"employees": too_big - 1}, format="json").json()[
            "employees"
        ]
        == too_big - 1
    )


@pytest.mark.django_db
@pytest.mark.parametrize("owner", ["abc", 2**63, [1], 1.5])
def test_a_claim_owner_that_is_not_a_user_id_is_400(api, owner):
    lead = lead_make(email="claim@example.co.jp", stage="mql", cycle=1)
    answer = api("admin").post(
        f"/api/handoff/leads/{lead.pk}/claim/", {"owner": owner}, format="json"
    )
    assert answer.status_code == 400
    assert answer.json()["fields"] == {"owner": ["unknown"]}


@pytest.mark.django_db
def test_a_user_name_outside_djangos_rule_is_400(api):
    answer = api("admin").post(
        "/api/users/",
        {"username": "\x16bad name", "password": "a-long-test-password", "role": "sales"},
        format="json",
    )
    assert answer.status_code == 400
    assert "username" in answer.json()["fields"]


@pytest.mark.django_db
def test_options_on_the_lead_list_describes_it(api):
    answer = api("admin").options("/api/leads/")
    assert answer.status_code == 200
    assert "employees" in answer.json()["actions"]["POST"]


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "post", "patch", "delete"])
@pytest.mark.parametrize("path", ["/api/nothing/", "/api/forms/%F3%83%A0%B1%0A/", "/api/leads/x/"])
def test_an_unknown_api_path_is_a_json_404_for_every_method(make_user, path, method):
    # a token client, and a session one that checks CSRF (a CSRF page would be HTML)
    admin = make_user("admin")
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(admin)
    for client in (client_for(admin), browser):
        answer = getattr(client, method)(path)
        assert answer.status_code == 404
        assert answer["Content-Type"] == "application/json"
        assert answer.json()["code"] == "not_found"
