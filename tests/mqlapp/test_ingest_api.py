"""The Tracking API of issue 2: batch/identify/track/page, idempotency, auth and bad input."""

import gzip
import json
import uuid

import pytest
from rest_framework.test import APIClient

from handoff.models import LeadView
from mqlapp.leads.models import Event
from tests.conftest import basic, client_for

pytestmark = pytest.mark.django_db


def _identify(email, anon="anon-1", **traits):
    return {
        "type": "identify",
        "anonymousId": anon,
        "userId": email,
        "traits": {"email": email, **traits},
        "messageId": str(uuid.uuid4()),
    }


def test_batch_stores_messages_and_answers_success(ingest):
    body = {
        "batch": [
            {
                "type": "page",
                "anonymousId": "anon-1",
                "properties": {"path": "/pricing"},
                "messageId": "m-1",
            },
            _identify("Taro@Example.co.jp", lastName="山田", firstName="太郎", company="株式会社A"),
            {
                "type": "track",
                "anonymousId": "anon-1",
                "event": "Document Downloaded",
                "messageId": "m-2",
            },
        ]
    }
    response = ingest("/v1/batch", body)
    assert response.status_code == 200
    assert response.json() == {"success": True}
    lead = LeadView.objects.get(email="taro@example.co.jp")
    assert (lead.last_name, lead.first_name, lead.company) == ("山田", "太郎", "株式会社A")
    # the page view sent before the identify belongs to the lead too
    assert sorted(lead.events.values_list("type", flat=True)) == ["identify", "page", "track"]


def test_same_message_id_is_stored_once(ingest):
    message = {"type": "track", "userId": "u1", "event": "Email Opened", "messageId": "dup-1"}
    assert ingest("/v1/track", message).status_code == 200
    assert ingest("/v1/batch", {"batch": [message, message]}).status_code == 200
    assert Event.objects.filter(message_id="dup-1").count() == 1


def test_message_without_id_gets_one(ingest):
    assert ingest("/v1/track", {"userId": "u1", "event": "Email Opened"}).status_code == 200
    assert Event.objects.get().message_id


def test_single_endpoints_set_the_type(ingest):
    ingest("/v1/identify", {"userId": "u9", "traits": {"email": "u9@example.com"}})
    ingest("/v1/page", {"userId": "u9", "properties": {"url": "https://x.example/"}})
    ingest("/v1/track", {"userId": "u9", "event": "Form Submitted"})
    lead = LeadView.objects.get(email="u9@example.com")
    assert sorted(lead.events.values_list("type", flat=True)) == ["identify", "page", "track"]


def test_malformed_json_is_400_with_json_error(source):
    response = APIClient().post(
        "/v1/batch",
        data=b'{"batch": [',
        content_type="application/json",
        HTTP_AUTHORIZATION=basic(source.write_key),
    )
    assert response.status_code == 400
    assert "malformed JSON" in response.json()["error"]


def test_wrong_write_key_is_401(source):
    response = APIClient().post(
        "/v1/track",
        {"userId": "u", "event": "x"},
        format="json",
        HTTP_AUTHORIZATION=basic("wk_wrong"),
    )
    assert response.status_code == 401
    assert response.json()["success"] is False
    assert Event.objects.count() == 0


def test_missing_write_key_is_401(source):
    response = APIClient().post("/v1/track", {"userId": "u", "event": "x"}, format="json")
    assert response.status_code == 401


def test_write_key_in_body_is_accepted(source):
    response = APIClient().post(
        "/v1/track", {"userId": "u", "event": "x", "writeKey": source.write_key}, format="json"
    )
    assert response.status_code == 200


def test_user_token_is_refused_on_v1(make_user, source):
    client = client_for(make_user("admin"))
    response = client.post("/v1/track", {"userId": "u", "event": "x"}, format="json")
    assert response.status_code == 401
    assert Event.objects.count() == 0


def test_invalid_messages_in_batch_are_named_and_valid_ones_kept(ingest):
    body = {
        "batch": [
            {"type": "track", "event": "No ids", "messageId": "a"},
            {"type": "track", "userId": "u", "event": "Good", "messageId": "b"},
            {"type": "launch", "userId": "u", "messageId": "c"},
            {
                "type": "track",
                "userId": "u",
                "event": "Bad time",
                "timestamp": "yesterday",
                "messageId": "d",
            },
            {
                "type": "identify",
                "userId": "u",
                "traits": {"email": "not-an-email"},
                "messageId": "e",
            },
        ]
    }
    response = ingest("/v1/batch", body)
    assert response.status_code == 200
    rejected = response.json()["rejected"]
    assert [r["index"] for r in rejected] == [0, 2, 3, 4]
    assert "userId or an anonymousId" in rejected[0]["error"]
    assert "unknown type" in rejected[1]["error"]
    assert "timestamp" in rejected[2]["error"]
    assert "email" in rejected[3]["error"]
    assert list(Event.objects.values_list("message_id", flat=True)) == ["b"]


def test_invalid_single_message_is_400(ingest):
    response = ingest("/v1/track", {"userId": "u"})
    assert response.status_code == 400
    assert "event name" in response.json()["error"]


def test_gzip_body(source):
    body = gzip.compress(
        json.dumps(
            {"batch": [{"type": "track", "userId": "u", "event": "Zipped", "messageId": "z"}]}
        ).encode()
    )
    response = APIClient().post(
        "/v1/batch",
        data=body,
        content_type="application/json",
        HTTP_CONTENT_ENCODING="gzip",
        HTTP_AUTHORIZATION=basic(source.write_key),
    )
    assert response.status_code == 200
    assert Event.objects.get().name == "Zipped"


def test_message_over_32kb_is_413(ingest):
    response = ingest(
        "/v1/track", {"userId": "u", "event": "Big", "properties": {"blob": "x" * 33_000}}
    )
    assert response.status_code == 413
    assert "32 KB" in response.json()["error"]


def test_request_over_500kb_is_413(ingest):
    batch = [
        {
            "type": "track",
            "userId": "u",
            "event": "e",
            "messageId": str(i),
            "properties": {"pad": "y" * 20_000},
        }
        for i in range(30)
    ]
    response = ingest("/v1/batch", {"batch": batch})
    assert response.status_code == 413
    assert "500 KB" in response.json()["error"]
    assert Event.objects.count() == 0


def test_clock_skew_is_corrected_from_sent_at(ingest):
    # The client clock is 1 hour fast: sentAt and timestamp are both shifted by +1h.
    response = ingest(
        "/v1/track",
        {
            "userId": "u",
            "event": "Skewed",
            "timestamp": "2030-01-01T11:00:00Z",
            "sentAt": "2030-01-01T12:00:00Z",
        },
    )
    assert response.status_code == 200
    event = Event.objects.get()
    assert (event.received_at - event.timestamp).total_seconds() == pytest.approx(3600, abs=1)


def test_cors_origin_not_allowed_is_refused(source):
    response = APIClient().post(
        "/v1/track",
        {"userId": "u", "event": "x"},
        format="json",
        HTTP_AUTHORIZATION=basic(source.write_key),
        HTTP_ORIGIN="https://evil.example",
    )
    assert response.status_code == 403
    ok = APIClient().post(
        "/v1/track",
        {"userId": "u", "event": "x"},
        format="json",
        HTTP_AUTHORIZATION=basic(source.write_key),
        HTTP_ORIGIN="https://www.example.co.jp",
    )
    assert ok.status_code == 200
    assert ok["Access-Control-Allow-Origin"] == "https://www.example.co.jp"


# --- issue 4: every limit and every bad input --------------------------------------------


def _raw_post(source, data, **headers):
    return APIClient().post(
        "/v1/batch",
        data=data,
        content_type="application/json",
        HTTP_AUTHORIZATION=basic(source.write_key),
        **headers,
    )


def test_a_message_over_32kb_inside_a_batch_is_413_naming_it(ingest):
    small = {"type": "track", "userId": "u", "event": "ok", "messageId": "s"}
    big = {"type": "track", "userId": "u", "event": "big", "properties": {"x": "y" * 33_000}}
    response = ingest("/v1/batch", {"batch": [small, big]})
    assert response.status_code == 413
    assert response.json() == {
        "success": False,
        "error": "message 1 is larger than the 32 KB limit",
        "code": "too_large",
        "message": "message 1 is larger than the 32 KB limit",
        "index": 1,
        "limit_bytes": 32768,
    }
    assert Event.objects.count() == 0


def test_a_gzip_body_that_inflates_past_500kb_is_413(source):
    inflated = json.dumps({"batch": [], "pad": "z" * 600_000}).encode()
    response = _raw_post(source, gzip.compress(inflated), HTTP_CONTENT_ENCODING="gzip")
    assert len(gzip.compress(inflated)) < 10_000
    assert response.status_code == 413
    assert response.json()["limit_bytes"] == 512_000


def test_a_body_that_is_not_gzip_is_400(source):
    response = _raw_post(source, b"not gzip at all", HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 400
    assert "gzip" in response.json()["error"]


def test_a_batch_without_a_batch_list_is_400(ingest):
    response = ingest("/v1/batch", {"batch": {"type": "track"}})
    assert response.status_code == 400
    assert response.json()["error"] == 'a batch body must be an object with a "batch" list'


def test_get_is_405(source):
    assert APIClient().get("/v1/batch").status_code == 405


def test_import_is_a_synonym_of_batch(ingest):
    response = ingest("/v1/import", {"batch": [{"type": "screen", "userId": "u", "name": "Home"}]})
    assert response.status_code == 200
    assert Event.objects.get().type == "screen"


def test_alias_and_group_endpoints(ingest):
    ingest("/v1/identify", {"userId": "crm-1", "traits": {"email": "a@example.com"}})
    assert ingest("/v1/alias", {"previousId": "anon-x", "userId": "crm-1"}).status_code == 200
    assert (
        ingest(
            "/v1/group", {"userId": "crm-1", "groupId": "g", "traits": {"name": "G社"}}
        ).status_code
        == 200
    )
    assert LeadView.objects.get().company == "G社"
    assert ingest("/v1/group", {"userId": "crm-1"}).json()["error"] == "group needs a groupId"
    assert ingest("/v1/alias", {"userId": "crm-1"}).json()["error"] == (
        "alias needs previousId and userId"
    )


def test_an_identify_with_an_invalid_email_alone_is_400(ingest):
    response = ingest("/v1/identify", {"anonymousId": "a", "traits": {"email": "x@"}})
    assert response.status_code == 400
    assert "traits.email" in response.json()["error"]
    assert LeadView.objects.count() == 0


def test_batch_level_sent_at_corrects_every_message(ingest):
    # A client clock 10 minutes slow: its timestamps and sentAt are both 10 minutes behind.
    response = ingest(
        "/v1/batch",
        {
            "sentAt": "2030-01-01T11:50:00Z",
            "batch": [
                {"type": "track", "userId": "u", "event": "e", "timestamp": "2030-01-01T11:40:00Z"}
            ],
        },
    )
    assert response.status_code == 200
    event = Event.objects.get()
    assert (event.received_at - event.timestamp).total_seconds() == pytest.approx(600, abs=1)


def test_messages_of_wrong_shapes_are_rejected_one_by_one(ingest):
    body = {
        "batch": [
            "just a string",
            {"type": "track", "userId": {"nested": 1}, "event": "x"},
            {"type": "track", "userId": "u", "event": "x", "properties": [1, 2]},
            {"type": "track", "userId": "u", "event": "x", "timestamp": 12345},
            {"type": "track", "userId": "u" * 201, "event": "x"},
            {"type": "track", "userId": "u", "event": "kept"},
        ]
    }
    response = ingest("/v1/batch", body)
    assert response.status_code == 200
    assert response.json()["rejected"] == [
        {"index": 0, "error": "message must be a JSON object"},
        {"index": 1, "error": "userId must be a string"},
        {"index": 2, "error": "properties must be an object"},
        {"index": 3, "error": "timestamp must be an ISO 8601 string"},
        {"index": 4, "error": "userId is longer than 200 characters"},
    ]
    assert list(Event.objects.values_list("name", flat=True)) == ["kept"]


def test_an_inactive_source_is_401(source, ingest):
    source.active = False
    source.save()
    assert ingest("/v1/track", {"userId": "u", "event": "x"}).status_code == 401
