"""Privacy (SPEC §6): admins export everything held on a person and erase it for good."""

import json
import uuid

import pytest
from django.test import Client

from handoff.models import LeadView, StageTransition, Webhook, WebhookDelivery
from handoff.webhooks import webhooks_enqueue
from mqlapp.leads.models import Consent, Erasure, Event, Form, Identity, LeadMerge
from scoring.models import LeadScore
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def mid():
    return str(uuid.uuid4())


@pytest.fixture
def person(ingest, django_capture_on_commit_callbacks):
    """Taro: an anonymous page view, identified by email, a track with personal properties,
    and a landing-page form with consent; returns the lead."""
    with django_capture_on_commit_callbacks(execute=True):
        assert ingest("/v1/page", {
            "anonymousId": "anon-taro", "messageId": mid(),
            "properties": {"path": "/pricing", "title": "料金", "hostname": "sakura.jp"},
            "context": {"ip": "203.0.113.7", "userAgent": "Firefox/120"},
        }).status_code == 200  # fmt: skip
        assert ingest("/v1/identify", {
            "anonymousId": "anon-taro", "userId": "u-42", "messageId": mid(),
            "traits": {"email": "taro@sakura.co.jp", "firstName": "太郎", "lastName": "山田",
                       "company": "さくら製作所"},
        }).status_code == 200  # fmt: skip
        assert ingest("/v1/track", {
            "userId": "u-42", "event": "Demo Requested", "messageId": mid(),
            "properties": {"plan": "pro", "email": "taro@sakura.co.jp",
                           "contact": {"phone_number": "03-1234-5678", "seats": 5}},
            "context": {"traits": {"email": "taro@sakura.co.jp"}, "page": {"path": "/demo"},
                        "location": {"city": "Osaka"}, "device": {"advertisingId": "ad-1"}},
        }).status_code == 200  # fmt: skip
    Form.objects.create(name="WP", slug="wp", consent_text="同意します (v1)")
    with django_capture_on_commit_callbacks(execute=True):
        answer = Client().post(
            "/f/wp/",
            {
                "email": "taro@sakura.co.jp",
                "last_name": "山田",
                "first_name": "太郎",
                "company": "さくら製作所",
                "phone": "03-1234-5678",
                "consent": "on",
            },
            REMOTE_ADDR="203.0.113.7",
            HTTP_USER_AGENT="Firefox/120",
        )
    assert answer.status_code == 303, answer.content
    lead = LeadView.objects.get(email="taro@sakura.co.jp")
    assert lead.first_name == "太郎"
    return lead


def test_export_holds_lead_identities_events_and_consent(api, person):
    answer = api("admin").get(f"/api/leads/{person.pk}/personal-data/")
    assert answer.status_code == 200
    data = answer.json()
    assert (data["lead"]["email"], data["lead"]["first_name"], data["lead"]["company"]) == (
        "taro@sakura.co.jp",
        "太郎",
        "さくら製作所",
    )
    assert sorted((i["kind"], i["value"]) for i in data["identities"]) == [
        ("anonymous", "anon-taro"),
        ("user", "taro@sakura.co.jp"),  # the form's submission is sent under the email
        ("user", "u-42"),
    ]
    kinds = [(e["type"], e["name"]) for e in data["events"]]
    assert ("page", "") in kinds or any(t == "page" for t, _ in kinds)
    assert ("track", "Demo Requested") in kinds
    assert "identify" in [t for t, _ in kinds]
    demo = next(e for e in data["events"] if e["name"] == "Demo Requested")
    assert demo["properties"]["email"] == "taro@sakura.co.jp"
    assert demo["context"]["traits"] == {"email": "taro@sakura.co.jp"}
    assert len(data["events"]) == Event.objects.filter(lead=person).count()
    assert [(c["form"], c["version"], c["ip"]) for c in data["consents"]] == [
        ("WP", 1, "203.0.113.7")
    ]
    assert data["erased"] is None
    assert set(data) == {
        "lead", "identities", "events", "consents", "merges", "score", "stage_history",
        "assignments", "erased",
    }  # fmt: skip


def test_export_shows_merged_data(api, person):
    LeadMerge.objects.create(
        into=person, merged_lead_id=999, merged_email="old@sakura.co.jp",
        merged_data={"first_name": "Taro"}, at=person.created_at,
    )  # fmt: skip
    data = api("admin").get(f"/api/leads/{person.pk}/personal-data/").json()
    assert [(m["merged_lead_id"], m["merged_email"], m["merged_data"]) for m in data["merges"]] == [
        (999, "old@sakura.co.jp", {"first_name": "Taro"})
    ]


@pytest.mark.parametrize("role", ["marketer", "sales"])
def test_other_roles_may_not_export_or_erase(api, person, role):
    client = api(role)
    assert client.get(f"/api/leads/{person.pk}/personal-data/").status_code == 403
    assert client.post(f"/api/leads/{person.pk}/erase/").status_code == 403
    assert LeadView.objects.get(pk=person.pk).email == "taro@sakura.co.jp"
    assert Erasure.objects.count() == 0


def test_no_credentials_is_401(person):
    from rest_framework.test import APIClient

    assert APIClient().get(f"/api/leads/{person.pk}/personal-data/").status_code == 401
    assert APIClient().post(f"/api/leads/{person.pk}/erase/").status_code == 401


def test_unknown_lead_is_404(api):
    assert api("admin").get("/api/leads/999999/personal-data/").status_code == 404
    assert api("admin").post("/api/leads/999999/erase/").status_code == 404


def test_erase_blanks_the_person_and_strips_events_and_keeps_counts(api, make_user, person):
    admin = make_user("admin", username="dpo")
    assert person.stage == "mql"  # the form submission fast-tracks Taro
    LeadScore.objects.filter(lead_id=person.pk).update(score=80)
    StageTransition.objects.create(
        lead=person, from_stage="nurturing", to_stage="mql", at=person.created_at,
        reason="threshold", note="山田さんに電話", score=80, cycle=1,
    )  # fmt: skip
    LeadMerge.objects.create(
        into=person, merged_lead_id=999, merged_email="old@sakura.co.jp",
        merged_data={"first_name": "Taro"}, at=person.created_at,
    )  # fmt: skip
    events_before = Event.objects.filter(lead=person).count()
    funnel_before = api("admin").get("/api/reports/funnel/").json()

    answer = client_for(admin).post(f"/api/leads/{person.pk}/erase/")

    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert (body["lead"], body["by"], body["already_erased"]) == (person.pk, "dpo", False)
    assert body["counts"]["identities_deleted"] == 3
    assert body["counts"]["events_scrubbed"] == events_before
    assert body["counts"]["consents_scrubbed"] == 1
    assert body["counts"]["merges_scrubbed"] == 1
    assert body["counts"]["notes_blanked"] == 1
    lead = LeadView.objects.get(pk=person.pk)
    assert [getattr(lead, f) for f in (
        "email", "external_id", "first_name", "last_name", "company", "department", "title",
        "phone")] == [""] * 8  # fmt: skip
    assert lead.traits == {}
    assert (lead.stage, float(lead.score), lead.source_id) == ("mql", 80.0, person.source_id)
    assert Identity.objects.filter(lead=lead).count() == 0
    assert Event.objects.filter(lead=lead).count() == events_before
    for e in Event.objects.filter(lead=lead):
        assert (e.anonymous_id, e.user_id, e.previous_id, e.traits) == ("", "", "", {})
        for key in ("traits", "ip", "userAgent"):
            assert key not in e.context
    demo = Event.objects.get(lead=lead, name="Demo Requested")
    assert demo.properties == {"plan": "pro", "contact": {"seats": 5}}
    assert demo.context == {"page": {"path": "/demo"}}
    pricing = Event.objects.get(lead=lead, type="page")
    assert pricing.properties == {"path": "/pricing", "title": "料金", "hostname": "sakura.jp"}
    assert "taro@sakura.co.jp" not in json.dumps(
        list(Event.objects.filter(lead=lead).values("properties", "context", "traits")),
        ensure_ascii=False,
    )
    consent = Consent.objects.get(lead=lead)
    assert (consent.ip, consent.user_agent, consent.version) == (None, "", 1)
    merge = LeadMerge.objects.get(into=lead)
    assert (merge.merged_email, merge.merged_data) == ("", {})
    assert [t.note for t in StageTransition.objects.filter(lead=lead)] == ["", ""]
    assert [t.to_stage for t in StageTransition.objects.filter(lead=lead)] == ["mql", "mql"]
    erasure = Erasure.objects.get(lead=lead)
    assert erasure.by == admin
    assert "taro" not in json.dumps(erasure.counts)
    # reports still count the lead
    assert api("admin").get("/api/reports/funnel/").json() == funnel_before
    # the export now shows nothing personal, and that the lead was erased
    data = api("admin").get(f"/api/leads/{lead.pk}/personal-data/").json()
    assert data["erased"]["by"] == "dpo"
    assert data["identities"] == []
    assert "taro@sakura.co.jp" not in json.dumps(data, ensure_ascii=False)
    assert "山田" not in json.dumps(data, ensure_ascii=False)


def test_erasing_twice_is_200_and_changes_nothing(api, person):
    client = api("admin")
    first = client.post(f"/api/leads/{person.pk}/erase/").json()
    second = client.post(f"/api/leads/{person.pk}/erase/")
    assert second.status_code == 200
    assert second.json() == {**first, "already_erased": True}
    assert Erasure.objects.filter(lead=person).count() == 1


def test_erasing_again_scrubs_an_event_that_reached_the_lead_since(api, person):
    from django.utils import timezone

    client = api("admin")
    client.post(f"/api/leads/{person.pk}/erase/")
    # a message resolved to the lead just before the erasure committed, stored just after
    late = Event.objects.create(
        message_id=mid(), lead=person, anonymous_id="anon-taro", type="track", name="Late",
        properties={"email": "taro@sakura.co.jp", "plan": "pro"},
        context={"ip": "203.0.113.7"}, traits={"email": "taro@sakura.co.jp"},
        timestamp=timezone.now(), received_at=timezone.now(),
    )  # fmt: skip
    assert client.post(f"/api/leads/{person.pk}/erase/").json()["already_erased"] is True
    late.refresh_from_db()
    assert (late.anonymous_id, late.properties, late.context, late.traits) == (
        "",
        {"plan": "pro"},
        {},
        {},
    )


def test_erased_email_identified_again_starts_a_new_lead(
    api, person, ingest, django_capture_on_commit_callbacks
):
    api("admin").post(f"/api/leads/{person.pk}/erase/")
    erased_events = Event.objects.filter(lead=person).count()
    with django_capture_on_commit_callbacks(execute=True):
        assert ingest("/v1/identify", {
            "userId": "u-42", "messageId": mid(), "traits": {"email": "Taro@Sakura.co.jp"},
        }).status_code == 200  # fmt: skip
        # the old anonymousId no longer leads to the erased lead
        assert ingest("/v1/page", {
            "anonymousId": "anon-taro", "messageId": mid(), "properties": {"path": "/again"},
        }).status_code == 200  # fmt: skip
    new = LeadView.objects.get(email="taro@sakura.co.jp")
    assert new.pk != person.pk
    old = LeadView.objects.get(pk=person.pk)
    assert (old.email, old.first_name, Erasure.objects.filter(lead=old).exists()) == ("", "", True)
    assert Event.objects.filter(lead=person).count() == erased_events
    again = Event.objects.get(properties__path="/again")
    assert again.lead_id != person.pk
    assert Identity.objects.filter(lead=person).count() == 0


def test_webhooks_send_no_personal_data_of_an_erased_lead(api, person):
    Webhook.objects.create(url="http://127.0.0.1:9/hook", events=["lead.mql"], secret="s")
    lead = LeadView.objects.get(pk=person.pk)
    from django.utils import timezone

    webhooks_enqueue(lead.pk, event_type="lead.mql", now=timezone.now(), extra={})
    pending = WebhookDelivery.objects.get()
    assert "taro@sakura.co.jp" in pending.payload
    answer = api("admin").post(f"/api/leads/{person.pk}/erase/")
    assert answer.json()["counts"]["webhook_payloads_scrubbed"] == 1
    scrubbed = json.loads(WebhookDelivery.objects.get().payload)
    assert (scrubbed["data"]["id"], scrubbed["data"]["email"], scrubbed["data"]["traits"]) == (
        person.pk,
        "",
        {},
    )
    assert "太郎" not in WebhookDelivery.objects.get().payload
    # a later event about the erased lead carries no personal data either
    webhooks_enqueue(person.pk, event_type="lead.mql",
                     now=timezone.now(), extra={})  # fmt: skip
    later = WebhookDelivery.objects.order_by("-id").first().payload
    assert "taro@sakura.co.jp" not in later
    assert "太郎" not in later
