"""One bad message never costs the batch (issue 10): the reproduced 500s, each beside valid
messages, answer 200 with the bad one named in `rejected` and the others stored; the
single-message endpoints answer 400 JSON; the form and CSV doors take the same values
without a 500. The fuzz of all of it is tests/mqlapp/test_ingest_fuzz.py."""

import json
import uuid
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from mqlapp.leads.ingest.messages import MessageInvalid, message_parse
from mqlapp.leads.models import Event, Form, Identity, Lead
from tests.conftest import basic

pytestmark = pytest.mark.django_db


def track(**fields):
    return {
        "type": "track",
        "event": "Document Downloaded",
        "userId": "crm-1",
        "messageId": str(uuid.uuid4()),
        **fields,
    }


def _stored(*messages):
    ids = [m["messageId"] for m in messages]
    return sorted(Event.objects.filter(message_id__in=ids).values_list("message_id", flat=True))


FAR = (timezone.now() + timedelta(days=6 * 366)).isoformat()
BAD = [
    (
        {"timestamp": "9999-12-31T00:00:00Z", "sentAt": "2000-01-01T00:00:00Z"},
        "timestamp '9999-12-31T00:00:00Z' corrected by sentAt 2000-01-01T00:00:00+00:00 "
        "falls outside the years 1 to 9999",
    ),
    (
        {"timestamp": "0001-01-01T00:00:00+09:00"},
        "timestamp '0001-01-01T00:00:00+09:00' falls outside the years 1 to 9999 in UTC",
    ),
    (
        {"timestamp": "1969-12-31T23:59:59Z"},
        "timestamp '1969-12-31T23:59:59Z' is before 1970-01-01",
    ),
    ({"timestamp": FAR}, f"timestamp {FAR!r} is more than 5 years in the future"),
    (
        {"timestamp": "2025-06-01T00:00:00Z", "sentAt": "9999-01-01T00:00:00Z"},
        "timestamp '2025-06-01T00:00:00Z' corrected by sentAt 9999-01-01T00:00:00+00:00 "
        "falls outside the years 1 to 9999",
    ),
    ({"userId": "crm\x001"}, "userId contains a NUL character or an unpaired surrogate"),
    ({"properties": {"n": 10**400}}, "properties holds a number too large to store"),
]
# Fixed ids: FAR holds the clock, and pytest-xdist needs every process to collect the same ids.
BAD_IDS = ["skew-past-9999", "before-year-1", "before-1970", "far-future", "sent-at-9999",
           "nul-in-id", "huge-number"]  # fmt: skip


@pytest.mark.parametrize(("fields", "error"), BAD, ids=BAD_IDS)
def test_a_bad_message_is_rejected_by_index_and_its_neighbours_are_stored(ingest, fields, error):
    batch = [track(), track(**fields), track()]

    response = ingest("/v1/batch", {"batch": batch})

    assert response.status_code == 200, response.content
    assert response.json() == {"success": True, "rejected": [{"index": 1, "error": error}]}
    assert _stored(*batch) == sorted([batch[0]["messageId"], batch[2]["messageId"]])


@pytest.mark.parametrize(("fields", "error"), BAD, ids=BAD_IDS)
def test_a_single_message_endpoint_answers_400_json(ingest, fields, error):
    response = ingest("/v1/track", track(**fields))

    assert response.status_code == 400
    assert response.json()["error"] == error
    assert response.json()["code"] == "invalid"


def test_an_employee_count_past_the_column_is_kept_in_traits_beside_valid_messages(ingest):
    identify = {
        "type": "identify",
        "userId": "big-co",
        "messageId": str(uuid.uuid4()),
        "traits": {"email": "big@example.co.jp", "employees": "100000000000000000000"},
    }
    batch = [track(), identify, track()]

    response = ingest("/v1/batch", {"batch": batch})

    assert response.json() == {"success": True}
    lead = Lead.objects.get(email="big@example.co.jp")
    assert (lead.employees, lead.traits["employees"]) == (None, "100000000000000000000")
    assert len(_stored(*batch)) == 3


def test_text_postgresql_cannot_hold_is_kept_with_a_replacement_character(ingest):
    message = track(event="Doc\x00ument", properties={"title": "a\x00b", "k\x00": [{"x": "\x00"}]})

    assert ingest("/v1/batch", {"batch": [message]}).json() == {"success": True}

    event = Event.objects.get(message_id=message["messageId"])
    assert (event.name, event.properties) == (
        "Doc\ufffdument",
        {"title": "a\ufffdb", "k\ufffd": [{"x": "\ufffd"}]},
    )


def test_an_unpaired_surrogate_escape_does_not_make_the_body_malformed(source):
    # What JSON.stringify writes for a string cut in the middle of an emoji.
    first, second = track(), track()
    cut = {"type": "track", "event": "Cut X", "userId": "crm-1", "messageId": second["messageId"]}
    cut["properties"] = {"title": "X"}
    body = json.dumps({"batch": [first, cut]}).replace("X", "\\ud83d")

    response = Client().post(
        "/v1/batch", body, content_type="text/plain", HTTP_AUTHORIZATION=basic(source.write_key)
    )

    assert response.json() == {"success": True}
    event = Event.objects.get(message_id=second["messageId"])
    assert (event.name, event.properties) == ("Cut \ufffd", {"title": "\ufffd"})
    assert Event.objects.filter(message_id=first["messageId"]).exists()


def test_a_cut_emoji_in_a_large_batch_is_measured_not_a_500(source):
    # Bodies past 32 KB have each message measured against the limit.
    padded = track(properties={"pad": "p" * 30_000})
    cut = track(properties={"title": "X"})
    body = json.dumps({"batch": [padded, cut]}).replace("X", "\\ud83d")

    response = Client().post(
        "/v1/batch", body, content_type="text/plain", HTTP_AUTHORIZATION=basic(source.write_key)
    )

    assert response.json() == {"success": True}
    assert len(_stored(padded, cut)) == 2


@pytest.mark.parametrize("number", ["NaN", "Infinity", "1e400"])
def test_a_number_json_does_not_have_is_a_malformed_body(source, number):
    body = '{"batch": [{"type": "track", "event": "x", "userId": "u", "properties": {"n": %s}}]}'

    response = Client().post(
        "/v1/batch",
        body % number,
        content_type="text/plain",
        HTTP_AUTHORIZATION=basic(source.write_key),
    )

    assert response.status_code == 400
    assert response.json()["error"].startswith("malformed JSON")
    assert not Event.objects.exists()


def test_an_identify_email_is_measured_as_stored(ingest):
    # "İ" lower-cases to two characters: 240 of them would not fit the 254-character column.
    response = ingest(
        "/v1/identify", {"userId": "u", "traits": {"email": "İ" * 240 + "@example.com"}}
    )

    assert response.status_code == 400
    assert response.json()["error"].startswith("traits.email is not a valid email address")


def test_an_address_country_is_cut_to_its_column(ingest):
    identify = {
        "userId": "u",
        "traits": {"email": "far@example.com", "address": {"country": "x" * 150}},
    }

    assert ingest("/v1/identify", identify).status_code == 200

    assert Lead.objects.get(email="far@example.com").country == "x" * 100


# --- the other doors: the public form and the CSV import ---------------------------------------


def test_the_form_takes_the_same_values_without_a_500(db):
    Form.objects.create(name="DL", slug="dl", thank_you_url="https://www.example.co.jp/thanks")
    data = {
        "email": "form@example.co.jp",
        "last_name": "山田",
        "first_name": "花子",
        "company": "株式会社\x00さくら",
        "employees": "100000000000000000000",
        "mql_aid": "visitor\x00id",
    }

    response = Client().post(
        "/f/dl/", data, REMOTE_ADDR="203.0.113.7", HTTP_ACCEPT="application/json"
    )

    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["employees"]
    data["employees"] = "1,200"
    assert Client().post("/f/dl/", data, REMOTE_ADDR="203.0.113.7").status_code == 303
    lead = Lead.objects.get(email="form@example.co.jp")
    assert (lead.company, lead.employees) == ("株式会社\ufffdさくら", 1200)
    assert not Identity.objects.filter(kind="anonymous").exists()  # the unreadable id is dropped


def test_a_csv_import_takes_the_same_values_without_a_500(api, django_capture_on_commit_callbacks):
    rows = [
        "email,company,employees,event,date",
        "ok1@example.co.jp,A,10,Seminar Attended,2025-04-01",
        "nul@example.co.jp,B\x00,10,Seminar Attended,2025-04-01",
        "big@example.co.jp,C,100000000000000000000,Seminar Attended,2025-04-01",
        "old@example.co.jp,D,10,Seminar Attended,0001-01-01T00:00:00+09:00",
        "before@example.co.jp,E,10,Seminar Attended,1969-12-31",
        "far@example.co.jp,F,10,Seminar Attended,9999-12-31",
        "ok2@example.co.jp,G,10,Seminar Attended,2025-04-02",
    ]
    client = api("marketer")
    upload = SimpleUploadedFile("list.csv", "\n".join(rows).encode(), content_type="text/csv")

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/leads/import/", {"file": upload}, format="multipart")
    job = client.get(f"/api/imports/{response.json()['id']}/").json()

    assert (job["status"], job["created"]) == ("done", 2)
    assert [(e["row"], e["error"]) for e in job["errors"]] == [
        (3, "the row holds a NUL character"),
        (4, "employees: employees must be a whole number such as 1200"),
        (5, "timestamp: not a date or time: '0001-01-01T00:00:00+09:00'"),
        (6, "timestamp: '1969-12-31' is before 1970-01-01"),
        (7, "timestamp: '9999-12-31' is more than 5 years in the future"),
    ]
    assert sorted(Lead.objects.values_list("email", flat=True)) == [
        "ok1@example.co.jp",
        "ok2@example.co.jp",
    ]


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        ("  crm-1 ", "crm-1"),
        ("顧客\u3000", "顧客"),  # non-ASCII, stripped as Python strips
        (12345, "12345"),
        (1.5, "1.5"),
        ("x" * 200, "x" * 200),
        ("", ""),
    ],
)
def test_an_id_is_kept_as_sent_but_trimmed(value, kept):
    raw = {"type": "track", "event": "E", "userId": value, "anonymousId": "a-1"}
    message = message_parse(raw, index=0, received_at=timezone.now())

    assert message.user_id == kept


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("crm\x001", "contains a NUL character or an unpaired surrogate"),
        ("顧客\x00", "contains a NUL character or an unpaired surrogate"),
        ("crm\ud800", "contains a NUL character or an unpaired surrogate"),
        ("\udfff", "contains a NUL character or an unpaired surrogate"),
        ("x" * 201, "is longer than 200 characters"),
        (10**200, "is longer than 200 characters"),
        (True, "must be a string"),
        ({"id": 1}, "must be a string"),
    ],
)
def test_an_id_postgresql_cannot_keep_is_refused(value, error):
    raw = {"type": "track", "event": "E", "userId": "crm-1", "anonymousId": value}
    with pytest.raises(MessageInvalid) as refused:
        message_parse(raw, index=0, received_at=timezone.now())

    assert str(refused.value) == f"anonymousId {error}"
