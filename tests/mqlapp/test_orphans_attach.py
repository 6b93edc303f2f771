"""Earlier events attach (SPEC §3: "a call that names no known lead is kept and counts once
its ids are identified"): an event whose userId is an email joins the lead with that email,
whatever the case, however the lead comes into being: an identify with an anonymousId, a
form, a CSV import (the service, and the real worker), the lead API. And it counts."""

import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from handoff.models import LeadView
from mqlapp.leads.ingest.imports import lead_import_create, lead_import_run
from mqlapp.leads.models import Event, Form
from scoring.services import rule_create
from tests.conftest import requires_services, wait_for

pytestmark = pytest.mark.django_db

HEADER = "姓,名,会社名,メールアドレス,役職"


@pytest.fixture
def webinar_rule(db):
    """Attending a webinar is worth 20 points."""
    return rule_create(
        data={"name": "Webinar", "kind": "behavior", "event": "Webinar Attended", "points": 20}
    )


def webinar(user_id):
    return {
        "type": "track",
        "event": "Webinar Attended",
        "userId": user_id,
        "messageId": str(uuid.uuid4()),
        "timestamp": "2025-03-01T10:00:00Z",
    }


def orphan_kept(batch, user_id="Ken.Sato@Example.co.jp"):
    batch(webinar(user_id))
    orphan = Event.objects.get(name="Webinar Attended")
    assert orphan.lead_id is None
    return orphan


def assert_attached_and_scored(email, orphan, points=20):
    lead = LeadView.objects.get(email=email)
    orphan.refresh_from_db()
    assert orphan.lead_id == lead.pk
    assert lead.score == points
    newest = lead.events.filter(type="track").order_by("-timestamp").first()
    assert lead.last_activity_at == newest.timestamp
    return lead


def test_identify_with_an_anonymous_id_adopts_the_events_sent_under_the_email(batch, webinar_rule):
    orphan = orphan_kept(batch)
    batch(
        {
            "type": "identify",
            "anonymousId": "a-1",
            "traits": {"email": "ken.sato@example.co.jp", "lastName": "佐藤"},
        }
    )
    assert_attached_and_scored("ken.sato@example.co.jp", orphan)


def test_an_identify_sent_under_the_email_fills_the_lead_when_it_appears(batch):
    batch(
        {
            "type": "identify",
            "userId": "MIO@example.com",
            "timestamp": "2025-03-01T10:00:00Z",
            "traits": {"title": "課長", "plan": "pro"},
        }
    )
    assert Event.objects.get().lead_id is None  # no lead has that email yet
    batch({"type": "identify", "anonymousId": "a-2", "traits": {"email": "mio@example.com"}})
    lead = LeadView.objects.get(email="mio@example.com")
    assert (lead.title, lead.traits["plan"], lead.external_id) == ("課長", "pro", "")
    assert Event.objects.filter(lead=lead).count() == 2


def test_a_form_post_adopts_the_events_sent_under_the_email(
    batch, webinar_rule, django_capture_on_commit_callbacks
):
    orphan = orphan_kept(batch)
    Form.objects.create(name="DL", slug="dl", consent_text="")
    fields = {
        "姓": "佐藤",
        "名": "健",
        "会社名": "株式会社さくら",
        "email": "Ken.Sato@example.co.jp",
        "mql_aid": "visitor-9",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = Client().post("/f/dl/", fields, REMOTE_ADDR="203.0.113.7")
    assert response.status_code == 303, response.content
    assert_attached_and_scored("ken.sato@example.co.jp", orphan)


def test_a_csv_import_adopts_the_events_sent_under_the_email(
    batch, webinar_rule, django_capture_on_commit_callbacks
):
    orphan = orphan_kept(batch)
    data = f"{HEADER}\r\n佐藤,健,株式会社さくら,ken.sato@example.co.jp,部長\r\n".encode("cp932")
    with django_capture_on_commit_callbacks(execute=True):
        job = lead_import_create(filename="list.csv", data=data)
    with django_capture_on_commit_callbacks(execute=True):
        job = lead_import_run(job.pk)
    assert (job.status, job.created) == ("done", 1)
    lead = assert_attached_and_scored("ken.sato@example.co.jp", orphan)
    assert lead.title == "部長"


def test_a_lead_created_through_the_api_adopts_the_events_sent_under_its_email(
    batch, webinar_rule, api, django_capture_on_commit_callbacks
):
    orphan = orphan_kept(batch)
    with django_capture_on_commit_callbacks(execute=True):
        created = api("marketer").post(
            "/api/leads/", {"email": "ken.sato@example.co.jp", "last_name": "佐藤"}, format="json"
        )
    assert created.status_code == 201, created.content
    assert_attached_and_scored("ken.sato@example.co.jp", orphan)


def test_a_lead_given_an_email_through_the_api_adopts_the_events_sent_under_it(
    batch, webinar_rule, api, django_capture_on_commit_callbacks
):
    orphan = orphan_kept(batch, "Later@Example.com")
    marketer = api("marketer")
    blank = marketer.post("/api/leads/", {"last_name": "鈴木"}, format="json").json()
    with django_capture_on_commit_callbacks(execute=True):
        patched = marketer.patch(
            f"/api/leads/{blank['id']}/", {"email": "later@example.com"}, format="json"
        )
    assert patched.status_code == 200, patched.content
    assert_attached_and_scored("later@example.com", orphan)


@requires_services
@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_the_worker_imports_a_list_and_the_earlier_events_count(celery_worker_process, ingest, api):
    rule_create(
        data={"name": "Webinar", "kind": "behavior", "event": "Webinar Attended", "points": 20}
    )
    assert ingest("/v1/track", webinar("KEN.SATO@example.co.jp")).status_code == 200
    orphan = Event.objects.get(name="Webinar Attended")
    assert orphan.lead_id is None

    data = f"{HEADER}\r\n佐藤,健,株式会社さくら,ken.sato@example.co.jp,部長\r\n".encode("cp932")
    upload = SimpleUploadedFile("list.csv", data, content_type="text/csv")
    response = api("marketer").post("/api/leads/import/", {"file": upload}, format="multipart")
    assert response.status_code == 202, response.content

    lead = wait_for(
        lambda: LeadView.objects.filter(email="ken.sato@example.co.jp", scoring__score=20).first(),
        timeout=60,
    )
    orphan.refresh_from_db()
    assert orphan.lead_id == lead.pk
