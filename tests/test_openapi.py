"""The API is described by OpenAPI at /api/schema/ (browsable at /api/docs/): generated from
the same serializers that write the answers, without warnings, and real answers fit it."""

import functools
import json
import uuid
from typing import Any

import pytest
import yaml
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from drf_spectacular.drainage import GENERATOR_STATS
from openapi_core import OpenAPI
from openapi_core.exceptions import OpenAPIError
from openapi_core.testing import MockRequest, MockResponse

from handoff.models import LeadView
from handoff.services import policy_update
from handoff.webhooks import webhook_create
from scoring.models import ScoreHistory
from scoring.services import rule_create
from tests.conftest import client_for
from tests.pipeline import leads_score_pending

pytestmark = pytest.mark.django_db

PATHS = [
    "/api/auth/token/",
    "/api/users/",
    "/api/users/{id}/",
    "/api/sources/",
    "/api/leads/",
    "/api/leads/{id}/",
    "/api/leads/{id}/events/",
    "/api/leads/{id}/score/",
    "/api/leads/{id}/history/",
    "/api/leads/export.csv",
    "/api/scoring/rules/",
    "/api/scoring/simulate/",
    "/api/handoff/policy/",
    "/api/handoff/queue/",
    "/api/handoff/leads/{id}/{action}/",
    "/api/webhooks/",
    "/api/reports/funnel/",
    "/api/reports/rejections/",
    "/api/leads/import/",
    "/api/imports/{id}/",
    "/api/forms/",
    "/api/tracking-links/",
]


def test_schema_names_every_documented_path():
    response = Client().get("/api/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    assert schema["openapi"].startswith("3.")
    missing = [p for p in PATHS if p not in schema["paths"]]
    assert missing == []
    lead = schema["components"]["schemas"]["Lead"]["properties"]
    assert {"score", "engagement", "fit", "stage", "owner", "mql_at"} <= set(lead)


def test_docs_page_is_served_without_a_cdn():
    response = Client().get("/api/docs/")
    assert response.status_code == 200
    assert "cdn." not in response.content.decode()


def test_the_schema_generates_and_validates_without_a_warning(tmp_path):
    # what `manage.py spectacular --validate --fail-on-warn` does; it raises on a warning
    GENERATOR_STATS.reset()
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    assert not GENERATOR_STATS
    assert "/api/leads/" in yaml.safe_load(target.read_text())["paths"]


def test_the_lead_list_filters_are_described_from_the_filter_set():
    schema = _schema()
    for path in ("/api/leads/", "/api/leads/export.csv"):
        params = {p["name"]: p for p in schema["paths"][path]["get"]["parameters"]}
        assert {"stage", "owner", "source", "min_score", "max_score", "search", "ordering"} <= set(
            params
        )
        assert "-score" in params["ordering"]["schema"]["items"]["enum"]
        assert "password" not in params["ordering"]["schema"]["items"]["enum"]
        assert "nurturing" in params["stage"]["schema"]["items"]["enum"]
        assert params["min_score"]["schema"]["type"] == "number"
    listed = schema["paths"]["/api/leads/"]["get"]["responses"]["200"]["content"]
    assert listed["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PaginatedLeadList"
    }


# --- real answers against the generated schema -------------------------------------------------


@functools.cache
def _schema() -> dict[str, Any]:
    """The schema as /api/schema/ serves it (generated once: it does not depend on data)."""
    return json.loads(Client().get("/api/schema/?format=json").content)


@functools.cache
def _openapi() -> OpenAPI:
    return OpenAPI.from_dict(_schema())


def _resolve(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema or len(schema.get("allOf", ())) == 1:
        if "$ref" in schema:
            schema = components[schema["$ref"].rsplit("/", 1)[1]]
        else:
            schema = schema["allOf"][0]
    return schema


def _undescribed(value: Any, schema: dict[str, Any], components: dict[str, Any], at: str) -> list:
    """Keys of the answer that its schema does not name (OpenAPI allows them by default; here
    every key must be described)."""
    schema = _resolve(schema, components)
    found = []
    if isinstance(value, dict) and "properties" in schema:
        properties = schema["properties"]
        found += [f"{at}.{key}" for key in value if key not in properties]
        for key, item in value.items():
            if key in properties:
                found += _undescribed(item, properties[key], components, f"{at}.{key}")
    elif isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            found += _undescribed(item, schema["items"], components, f"{at}[{i}]")
    return found


def _fits(method: str, path: str, response: Any) -> Any:
    """Validate an answer against its operation in the generated schema (status, content
    type, types, required and nullable fields, enums) with openapi-core, then check that it
    has no key the schema does not describe; returns the parsed answer."""
    schema, path = _schema(), path.split("?", maxsplit=1)[0]
    _openapi().validate_response(
        MockRequest("http://testserver", method, path),
        MockResponse(
            response.content,
            status_code=response.status_code,
            content_type=response["Content-Type"],
        ),
    )
    candidates = [p for p in schema["paths"] if _matches(p, path) and method in schema["paths"][p]]
    template = min(candidates, key=lambda p: p.count("{"))  # literal segments first
    answer = schema["paths"][template][method]["responses"][str(response.status_code)]
    body = json.loads(response.content)
    described = answer["content"]["application/json"]["schema"]
    assert _undescribed(body, described, schema["components"]["schemas"], "answer") == []
    return body


def _matches(template: str, path: str) -> bool:
    wanted, actual = template.strip("/").split("/"), path.strip("/").split("/")
    return len(wanted) == len(actual) and all(
        w == a or (w.startswith("{") and w.endswith("}"))
        for w, a in zip(wanted, actual, strict=True)
    )


@pytest.fixture
def world(make_user, ingest, settings):
    """A lead through the real pipeline: scored to an MQL and assigned to the rep (stage
    history, score history, an assignment), with a lead.mql delivery waiting for a webhook."""
    admin = make_user("admin")
    rep = make_user("sales")
    rule_create(
        data={"name": "Download", "kind": "behavior", "event": "Document Downloaded", "points": 20}
    )
    policy_update(data={"mql_threshold": 60})
    # a loopback endpoint (nothing is sent: deliveries go out after commit, which a test
    # transaction never reaches)
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True
    hook = webhook_create(data={"url": "http://127.0.0.1:9/hooks", "events": ["lead.mql"]})
    email = "hanako@example.co.jp"
    ingest(
        "/v1/batch",
        {
            "batch": [
                {
                    "type": "identify",
                    "userId": "u1",
                    "traits": {"email": email, "lastName": "佐藤"},
                },
                *[
                    {
                        "type": "track",
                        "userId": email,
                        "event": "Document Downloaded",
                        "messageId": str(uuid.uuid4()),
                    }
                    for _ in range(3)
                ],
            ]
        },
    )
    while leads_score_pending(limit=100):
        pass
    lead = LeadView.objects.get(email=email)
    assert lead.stage == "mql"
    assert lead.owner_id == rep.pk
    ScoreHistory.objects.create(
        lead_id=lead.pk, at=timezone.now(), score=61.5, engagement=61.5, fit=0, cause="time"
    )
    return {
        "admin": client_for(admin),
        "sales": client_for(rep),
        "marketer": client_for(make_user("marketer")),
        "lead": lead.pk,
        "hook": hook.pk,
    }


# (who asks, method, path, body): the lead list, score, histories, queue, policy, simulator,
# reports, webhooks, reps, re-score progress, timeline, privacy; in this order (accept moves
# the lead on, erase comes last).
ANSWERS = [
    ("sales", "get", "/api/leads/?stage=mql,sal&min_score=10&ordering=-score,company", None),
    ("sales", "get", "/api/leads/{lead}/", None),
    ("sales", "get", "/api/leads/{lead}/score/", None),
    ("sales", "get", "/api/leads/{lead}/score/history/", None),
    ("sales", "get", "/api/handoff/queue/", None),
    ("sales", "post", "/api/handoff/leads/{lead}/accept/", {}),
    ("sales", "get", "/api/leads/{lead}/history/", None),
    ("sales", "get", "/api/leads/{lead}/assignments/", None),
    ("sales", "get", "/api/handoff/policy/", None),
    ("admin", "put", "/api/handoff/policy/", {"mql_threshold": 70, "min_fit": 1.5}),
    ("marketer", "post", "/api/scoring/simulate/", {"mql_threshold": 50}),
    ("sales", "get", "/api/reports/funnel/?from=2020-01-01", None),
    ("sales", "get", "/api/reports/rejections/", None),
    ("admin", "get", "/api/webhooks/{hook}/", None),
    ("admin", "get", "/api/webhooks/{hook}/deliveries/", None),
    ("admin", "get", "/api/handoff/reps/", None),
    ("marketer", "get", "/api/scoring/rules/", None),
    ("sales", "get", "/api/scoring/rescore/", None),
    ("marketer", "get", "/api/leads/{lead}/events/", None),
    ("admin", "get", "/api/leads/{lead}/personal-data/", None),
    ("admin", "post", "/api/leads/{lead}/erase/", None),
]


def test_real_answers_fit_the_generated_schema(world):
    misfits = []
    for role, method, path, body in ANSWERS:
        url = path.format(**world)
        response = getattr(world[role], method)(url, body, format="json")
        assert response.status_code in (200, 201), (url, response.content)
        try:
            assert _fits(method, url, response)  # an answer, not an empty one
        except (AssertionError, OpenAPIError) as exc:
            why = getattr(exc.__cause__, "schema_errors", exc.__cause__)
            misfits.append(f"{method.upper()} {path}: {exc!r} {why}")
    assert misfits == []


def test_the_idle_rescore_answer_fits_the_generated_schema(api):
    response = api("sales").get("/api/scoring/rescore/")

    body = _fits("get", "/api/scoring/rescore/", response)

    assert body == {"id": None, "state": "idle", "total": 0, "done": 0}


def test_a_broken_answer_does_not_fit(world):
    # the check can fail: a score answer without its breakdown, or with an extra key
    path = f"/api/leads/{world['lead']}/score/"
    response = world["sales"].get(path)
    good = json.loads(response.content)
    assert _fits("get", path, response) == good
    for broken in (
        {k: v for k, v in good.items() if k != "breakdown"},
        {**good, "score": "60"},
        {**good, "as_of": "yesterday"},
        {**good, "secret": 1},
    ):
        response.content = json.dumps(broken).encode()
        with pytest.raises((AssertionError, OpenAPIError)):
            _fits("get", path, response)
