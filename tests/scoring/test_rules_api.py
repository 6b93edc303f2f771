"""The rules API: every kind with its fields, clear 400s, permissions, the re-score it starts."""

import pytest

from scoring.models import RescoreJob, ScoringRule

pytestmark = pytest.mark.django_db

URL = "/api/scoring/rules/"
WHITEPAPER = {
    "name": "Pricing whitepaper",
    "kind": "behavior",
    "event": "Document Downloaded",
    "conditions": [{"field": "properties.category", "op": "eq", "value": "pricing"}],
    "points": 20,
    "max_times": 3,
    "window_days": None,
    "half_life_days": 30,
    "expire_after_days": None,
    "active": True,
}
SILENCE = {
    "name": "Download then silence",
    "kind": "inactivity",
    "after_event": "Document Downloaded",
    "watch_events": ["page", "Email Opened"],
    "inactive_days": 14,
    "points": -10,
}
MANAGER = {
    "name": "Manager",
    "kind": "fit",
    "points": 15,
    "conditions": [{"field": "title", "op": "in", "value": ["部長", "Manager"]}],
}


@pytest.mark.parametrize("data", [WHITEPAPER, SILENCE, MANAGER], ids=lambda d: d["kind"])
def test_each_kind_is_created_with_its_fields_and_a_rescore(api, data):
    response = api("marketer").post(URL, data, format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    for key, value in data.items():
        assert body[key] == value, key
    assert body["rescore"]["state"] == "done"  # no leads yet: applied at once
    assert body["rescore"]["id"] == RescoreJob.objects.get().pk


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({**WHITEPAPER, "conditions": [{"field": "properties.x", "op": "regex", "value": "."}]},
         "conditions", "condition 1: unknown op 'regex'; use one of eq, ne, in, contains, "
         "startswith, endswith, gt, gte, lt, lte, exists"),
        ({**WHITEPAPER, "conditions": [{"field": "title", "op": "eq", "value": "x"}]},
         "conditions", "condition 1: field 'title' is not an event field; use "
         "properties.<name> or context.<name>"),
        ({**MANAGER, "conditions": [{"field": "properties.x", "op": "eq", "value": "x"}]},
         "conditions", "condition 1: field 'properties.x' is not a lead field; use one of "
         "company, country, department, email_domain, employees, industry, title or "
         "traits.<name>"),
        ({**WHITEPAPER, "expire_after_days": 60},
         "expire_after_days", "use half_life_days or expire_after_days, not both"),
        ({key: v for key, v in SILENCE.items() if key != "inactive_days"},
         "inactive_days", "is required for inactivity rules"),
        ({**MANAGER, "event": "page"}, "event", "is not used by fit rules; leave it out"),
        ({**WHITEPAPER, "kind": "magic"},
         "kind", "must be one of behavior, fit, inactivity, got 'magic'"),
        ({**WHITEPAPER, "points": 1.005}, "points", "use at most 2 decimal places, got 1.005"),
        ({**WHITEPAPER, "ponits": 3}, "ponits",
         "unknown field; a rule has name, kind, event, conditions, points, max_times, "
         "window_days, half_life_days, expire_after_days, after_event, watch_events, "
         "inactive_days, active"),
        ({**WHITEPAPER, "window_days": 7, "max_times": None},
         "window_days", "only works together with max_times"),
        ({**WHITEPAPER, "conditions": [{"field": "properties.n", "op": "gt", "value": "many"}]},
         "conditions", "condition 1: gt needs a number value"),
    ],
    ids=["unknown-op", "fit-field-on-event", "event-field-on-fit", "both-fadings",
         "inactivity-without-days", "event-on-fit", "unknown-kind", "precision", "unknown-key",
         "window-without-max", "gt-not-number"],
)  # fmt: skip
def test_invalid_rules_are_400_naming_the_field(api, data, field, message):
    response = api("marketer").post(URL, data, format="json")

    assert response.status_code == 400
    body = response.json()
    assert (body["error"], body["code"]) == ("The rule is not valid.", "invalid")
    assert message in body["fields"][field]
    assert not ScoringRule.objects.exists()


def test_patch_merges_validates_and_rescores(api):
    client = api("admin")
    rule = client.post(URL, WHITEPAPER, format="json").json()

    changed = client.patch(f"{URL}{rule['id']}/", {"points": 25}, format="json")
    both = client.patch(f"{URL}{rule['id']}/", {"expire_after_days": 9}, format="json")

    assert (changed.status_code, changed.json()["points"]) == (200, 25.0)
    assert changed.json()["rescore"]["id"] == RescoreJob.objects.order_by("-id")[0].pk
    assert RescoreJob.objects.count() == 2
    assert both.status_code == 400
    assert ScoringRule.objects.get().points == 25


def test_patch_that_changes_nothing_starts_no_rescore(api):
    client = api("marketer")
    rule = client.post(URL, WHITEPAPER, format="json").json()

    response = client.patch(f"{URL}{rule['id']}/", {"points": 20.0, "id": 99}, format="json")

    assert response.status_code == 200
    assert RescoreJob.objects.count() == 1


def test_delete_rescores_and_the_job_is_visible(api):
    client = api("marketer")
    rule = client.post(URL, MANAGER, format="json").json()

    assert client.delete(f"{URL}{rule['id']}/").status_code == 204
    latest = client.get("/api/scoring/rescore/").json()
    assert (latest["state"], latest["reason"]) == ("done", f"rule {rule['id']} deleted")
    assert client.get(f"/api/scoring/rescore/{latest['id']}/").json() == latest
    missing = client.get("/api/scoring/rescore/999999/")
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")


def test_rescore_progress_before_any_job_is_idle(api):
    assert api("sales").get("/api/scoring/rescore/").json() == {
        "id": None,
        "state": "idle",
        "total": 0,
        "done": 0,
    }


def test_sales_reads_rules_but_cannot_write(api):
    client = api("sales")

    assert client.get(URL).status_code == 200
    assert client.post(URL, WHITEPAPER, format="json").status_code == 403
    assert not ScoringRule.objects.exists()


def test_anonymous_is_401():
    from rest_framework.test import APIClient

    assert APIClient().get(URL).status_code == 401


def test_body_must_be_an_object(api):
    response = api("marketer").post(URL, [WHITEPAPER], format="json")

    assert (response.status_code, response.json()["error"]) == (
        400,
        "The body must be a JSON object.",
    )
