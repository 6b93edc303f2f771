"""The scoring rules editor: roles, create / edit / deactivate / delete, errors, preview."""

from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from handoff.simulation import simulation_run
from scoring.models import RescoreJob, ScoringRule
from scoring.services import rule_create, rules_draft_parse
from tests.conftest import signed_in
from tests.factories import lead_make

pytestmark = pytest.mark.django_db


FORM = {
    "name": "Japan",
    "kind": "fit",
    "event": "",
    "conditions": '[{"field": "country", "op": "eq", "value": "JP"}]',
    "points": "100",
    "max_times": "",
    "window_days": "",
    "half_life_days": "",
    "expire_after_days": "",
    "after_event": "",
    "watch_events": "",
    "inactive_days": "",
    "active": "on",
}


@pytest.mark.parametrize(("role", "status"), [("marketer", 200), ("admin", 200), ("sales", 403)])
def test_rules_pages_are_for_marketers_and_admins(make_user, role, status):
    client = signed_in(make_user(role))
    assert client.get("/scoring/rules/").status_code == status
    assert client.get("/scoring/rules/new/").status_code == status
    assert client.post("/scoring/rules/new/", FORM).status_code == (302 if status == 200 else 403)


def test_rules_page_needs_sign_in():
    response = Client().get("/scoring/rules/")
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_a_rule_is_created_edited_deactivated_and_deleted_through_the_page(make_user):
    client = signed_in(make_user("marketer"))
    response = client.post("/scoring/rules/new/", FORM)
    assert response.status_code == 302
    assert response["Location"] == "/scoring/rules/"
    rule = ScoringRule.objects.get()
    assert (rule.name, rule.kind, rule.points, rule.active) == ("Japan", "fit", Decimal(100), True)
    assert rule.conditions == [{"field": "country", "op": "eq", "value": "JP"}]
    listing = client.get("/scoring/rules/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Japan" in listing
    assert "Deactivate" in listing
    # the re-score job the change asked for is shown with its progress
    job = RescoreJob.objects.order_by("-id").first()
    assert job is not None
    assert f"{job.done} / {job.total}" in listing

    form = client.get(f"/scoring/rules/{rule.pk}/").content.decode()
    assert 'value="Japan"' in form
    assert "&quot;country&quot;" in form
    edited = {**FORM, "name": "Japan (big)", "points": "-12.5"}
    assert client.post(f"/scoring/rules/{rule.pk}/", edited).status_code == 302
    rule.refresh_from_db()
    assert (rule.name, rule.points) == ("Japan (big)", Decimal("-12.50"))

    assert client.post(f"/scoring/rules/{rule.pk}/deactivate/").status_code == 302
    rule.refresh_from_db()
    assert rule.active is False
    assert "Activate" in client.get("/scoring/rules/", HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert client.post(f"/scoring/rules/{rule.pk}/delete/").status_code == 302
    assert not ScoringRule.objects.exists()


def test_validation_errors_are_shown_on_the_form_and_nothing_is_saved(make_user):
    client = signed_in(make_user("marketer"))
    bad = {**FORM, "kind": "behavior", "event": "", "points": "lots", "max_times": "1.5"}
    response = client.post("/scoring/rules/new/", bad, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    errors = response.context["errors"]
    assert set(errors) >= {"event", "points", "max_times"}
    page = response.content.decode()
    assert "must be a number, got &#x27;lots&#x27;" in page
    assert 'value="Japan"' in page  # the draft is kept in the form
    assert not ScoringRule.objects.exists()


def test_conditions_that_are_not_json_are_an_error(make_user):
    client = signed_in(make_user("admin"))
    response = client.post("/scoring/rules/new/", {**FORM, "conditions": "[{oops"})
    assert response.status_code == 400
    assert list(response.context["errors"]) == ["conditions"]
    assert not ScoringRule.objects.exists()


def test_preview_counts_equal_the_simulator_for_the_same_draft(make_user):
    for i, country in enumerate(("JP", "JP", "US")):
        lead_make(email=f"p{i}@example.co.jp", country=country)
    lead_make(email="mql@example.co.jp", country="US", stage="mql", score=150)
    visit = rule_create(data={"name": "Visit", "kind": "behavior", "event": "page", "points": 5})
    client = signed_in(make_user("marketer"))
    response = client.post("/scoring/rules/new/", {**FORM, "preview": "1"})
    assert response.status_code == 200
    preview = response.context["preview"]
    # hand-computed: the two JP leads reach 100 (the default threshold), the MQL has no fit
    assert (
        preview["leads_evaluated"],
        preview["would_qualify"],
        preview["currently_mql_or_later"],
        preview["newly_qualified"],
        preview["no_longer_qualified"],
    ) == (4, 2, 1, 2, 1)
    draft = rules_draft_parse(
        [
            {"id": visit.pk, "name": "Visit", "kind": "behavior", "event": "page", "points": 5},
            {
                "name": "Japan",
                "kind": "fit",
                "conditions": [{"field": "country", "op": "eq", "value": "JP"}],
                "points": 100,
            },
        ]
    )
    expected = simulation_run(
        rules=draft,
        threshold=Decimal(100),
        min_fit=None,
        now=timezone.now(),
    )
    keys = (
        "leads_evaluated",
        "would_qualify",
        "currently_mql_or_later",
        "newly_qualified",
        "no_longer_qualified",
    )
    assert {k: preview[k] for k in keys} == {k: expected[k] for k in keys}
    page = response.content.decode()
    assert '<dd id="preview-would-qualify">2</dd>' in page
    assert '<dd id="preview-newly-qualified">2</dd>' in page
    assert ScoringRule.objects.count() == 1  # a preview saves nothing


def test_preview_of_an_edit_replaces_the_rule_in_the_draft(make_user):
    lead_make(email="a@example.co.jp", country="JP")
    rule = rule_create(
        data={
            "name": "Japan",
            "kind": "fit",
            "conditions": [{"field": "country", "op": "eq", "value": "JP"}],
            "points": 100,
        }
    )
    client = signed_in(make_user("marketer"))
    response = client.post(f"/scoring/rules/{rule.pk}/", {**FORM, "points": "50", "preview": "1"})
    # with the rule at 50 instead of 100 (not both), the lead stays below the threshold
    assert response.context["preview"]["would_qualify"] == 0
    rule.refresh_from_db()
    assert rule.points == Decimal(100)
