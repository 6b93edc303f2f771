"""An erasure leaves nothing that identifies the person, anywhere (SPEC §6): not in the URLs,
referrers and query strings of their events, not in the campaign, not in free text, not in
any other app's rows. Every table is read back whole and searched for the person."""

import json
import uuid
from decimal import Decimal

import pytest
from django.apps import apps
from django.utils import timezone

from handoff.models import LeadView, Webhook, WebhookAttempt, WebhookDelivery
from handoff.services import mql_qualify, policy_update, queue_action
from mqlapp.leads.models import Event
from mqlapp.leads.scrub import PersonalValues, properties_scrub, url_scrub
from scoring.models import LeadScore, ScoreHistory
from scoring.services import rule_create
from tests.conftest import client_for
from tests.pipeline import leads_score_pending

pytestmark = pytest.mark.django_db

EMAIL = "hanako@ume.co.jp"
QUERY = "email=hanako%40ume.co.jp&utm_source=newsletter&utm_medium=email&utm_campaign=spring"
PAGE_URL = f"https://shop.example.jp/pricing?{QUERY}&utm_content=hanako-ume#top"
REFERRER = "https://mail.example.com/u/0/inbox/hanako.suzuki?compose=new"
# What identifies Hanako, in the forms it takes in her data (plain, URL-encoded, in paths).
IDENTIFYING = (
    "hanako",
    "ume.co.jp",
    "鈴木",
    "花子",
    "梅商事",
    "06-9876-5432",
    "anon-hanako-7",
    "u-hanako",
    "inbox",
    "token=",
    "crm-88",
    "198.51.100.23",
    "Hanako-Phone",
)


def _mid() -> str:
    return str(uuid.uuid4())


# Schema metadata: a row per model and permission ("Can add inbox batch"), never a person.
SCHEMA = ("contenttypes.ContentType", "auth.Permission")


def _every_row() -> str:
    """Every row of every data table, as text (binary columns as their length)."""
    rows = []
    for model in apps.get_models():
        if model._meta.label in SCHEMA:
            continue
        for row in model.objects.values():
            rows.append(
                {k: (len(v) if isinstance(v, bytes | memoryview) else v) for k, v in row.items()}
            )
    return json.dumps(rows, ensure_ascii=False, default=str)


@pytest.fixture
def hanako(ingest, make_user, django_capture_on_commit_callbacks):
    """Hanako: a page view from a personalised newsletter link, identified, a download with
    her details in its properties, scored, qualified, recycled by a rep with a note, and a
    webhook delivery (with the receiver's echo) about each move."""
    rule_create(data={"name": "Pricing paper", "kind": "behavior",
                      "event": "Document Downloaded", "points": 30})  # fmt: skip
    policy_update(data={"mql_threshold": 1000})
    Webhook.objects.create(
        url="https://hooks.example.com/in", events=["lead.mql", "lead.recycled"], secret="s"
    )
    page = {"url": PAGE_URL, "referrer": REFERRER, "path": "/pricing", "title": "料金",
            "search": f"?{QUERY}"}  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        assert ingest("/v1/page", {
            "anonymousId": "anon-hanako-7", "messageId": _mid(),
            "properties": page,
            "context": {
                "page": page, "ip": "198.51.100.23", "userAgent": "Hanako-Phone/1.0",
                "campaign": {"name": "spring", "source": "newsletter", "medium": "email",
                             "content": EMAIL, "term": "鈴木花子"},
                "externalIds": [{"id": "crm-88", "type": "crm", "collection": "users"}],
                "referrer": {"id": "crm-88", "type": "crm"},
                "library": {"name": "analytics.js", "version": "2.11.1"},
                "locale": "ja-JP",
            },
        }).status_code == 200  # fmt: skip
        assert ingest("/v1/identify", {
            "anonymousId": "anon-hanako-7", "userId": "u-hanako", "messageId": _mid(),
            "traits": {"email": EMAIL, "firstName": "花子", "lastName": "鈴木",
                       "company": "梅商事", "phone": "06-9876-5432"},
        }).status_code == 200  # fmt: skip
        assert ingest("/v1/track", {
            "userId": "u-hanako", "event": "Document Downloaded", "messageId": _mid(),
            "properties": {
                "category": "pricing",
                "file": f"https://cdn.example.jp/wp.pdf?token=abc&mail={EMAIL}",
                "comment": "鈴木さんから電話 06-9876-5432",
                "items": [{"sku": "A1"}, EMAIL, "UME-LOGO"],
                "referrer": REFERRER,
            },
            "context": {"page": {"url": PAGE_URL, "path": "/whitepaper?uid=u-hanako"}},
        }).status_code == 200  # fmt: skip
    leads_score_pending()
    lead = LeadView.objects.get(email=EMAIL)
    assert LeadScore.objects.get(lead_id=lead.pk).score == Decimal(30)
    assert ScoreHistory.objects.filter(lead_id=lead.pk).exists()
    rep = make_user("sales")
    assert mql_qualify(lead.pk, score=Decimal(30), reason="fast_track", now=timezone.now())
    queue_action(
        lead.pk, "recycle", user=rep,
        data={"reason": "bad_timing", "note": "鈴木様 06-9876-5432 に4月に電話"},
    )  # fmt: skip
    for delivery in WebhookDelivery.objects.all():
        WebhookAttempt.objects.create(
            delivery=delivery, number=1, at=timezone.now(), webhook_timestamp=0,
            status_code=200, response_body=f"received {delivery.payload}",
        )  # fmt: skip
    return lead


def test_before_the_erasure_the_person_is_everywhere(hanako):
    # the search below finds each thing it looks for, so its silence later means something
    everything = _every_row()
    missing = [text for text in IDENTIFYING if text not in everything]
    assert missing == []
    assert WebhookDelivery.objects.count() == 2  # lead.mql, lead.recycled
    assert "鈴木様" in WebhookDelivery.objects.order_by("id").last().payload


def test_an_erased_person_is_nowhere_and_the_counts_stay(hanako, make_user):
    events_before = list(
        Event.objects.filter(lead=hanako).order_by("id").values_list("type", "name", "timestamp")
    )

    answer = client_for(make_user("admin")).post(f"/api/leads/{hanako.pk}/erase/")

    assert answer.status_code == 200, answer.content
    everything = _every_row()
    found = [text for text in IDENTIFYING if text.lower() in everything.lower()]
    assert found == []
    # what reports and scores count stays: the events, their kinds, names and times
    after = Event.objects.filter(lead=hanako).order_by("id")
    assert list(after.values_list("type", "name", "timestamp")) == events_before
    page, _identify, download = after
    kept_page = {"url": "https://shop.example.jp/pricing", "referrer": "https://mail.example.com",
                 "path": "/pricing", "title": "料金"}  # fmt: skip
    assert page.properties == kept_page
    assert page.context == {
        "page": kept_page,
        "campaign": {"name": "spring", "source": "newsletter", "medium": "email"},
        "library": {"name": "analytics.js", "version": "2.11.1"},
        "locale": "ja-JP",
    }
    assert page.campaign == {"name": "spring", "source": "newsletter", "medium": "email"}
    assert download.properties == {
        "category": "pricing",
        "file": "https://cdn.example.jp/wp.pdf",
        "items": [{"sku": "A1"}, "UME-LOGO"],  # names no one
        "referrer": "https://mail.example.com",
    }
    assert download.context == {
        "page": {"url": "https://shop.example.jp/pricing", "path": "/whitepaper"}
    }
    counts = answer.json()["counts"]
    assert (counts["webhook_payloads_scrubbed"], counts["webhook_responses_blanked"]) == (2, 2)
    assert LeadScore.objects.get(lead_id=hanako.pk).score == Decimal(30)


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("https://a.example/p/q?email=x%40y.jp#f", "https://a.example/p/q"),
        ("https://user:pw@a.example:8443/p?x=1", "https://a.example:8443/p"),
        ("/path?uid=7", "/path"),
        ("/path#section", "/path"),
        ("not a url", "not a url"),
    ],
)
def test_a_url_keeps_scheme_host_and_path(text, kept):
    assert url_scrub(text) == kept


def test_values_naming_the_person_go_and_others_stay():
    person = PersonalValues.of(["Taro@Example.jp", "Yamada", "", None, "li"])
    scrubbed = properties_scrub(
        {
            "plan": "pro",
            "who": "Mr YAMADA",
            "mail": "taro%40example.jp",
            "other": "someone@else.example",  # anyone's address is personal data
            "short": "li is too short to name anyone",
            "nested": [{"seats": 5, "by": "yamada"}, "yamada-san", 3],
            "page": {"referrer": "https://www.google.com/search?q=yamada", "search": "?q=1"},
        },
        person,
    )
    assert scrubbed == {
        "plan": "pro",
        "short": "li is too short to name anyone",
        "nested": [{"seats": 5}, 3],
        "page": {"referrer": "https://www.google.com"},
    }
