"""The official Segment and RudderStack Python clients, unmodified, against a live server."""

import uuid

import pytest
from rudderstack.analytics.client import Client as RudderClient
from segment.analytics.client import Client as SegmentClient

from handoff.models import LeadView
from mqlapp.leads.models import Event

pytestmark = pytest.mark.django_db(transaction=True)


def _client(sdk, write_key, host, errors):
    on_error = lambda error, batch: errors.append(error)  # noqa: E731
    if sdk == "segment":
        return SegmentClient(
            write_key, host=host, gzip=True, on_error=on_error, max_retries=0, upload_interval=0.1
        )
    # RudderStack's client always gzips unless told not to; its host is the data plane URL
    return RudderClient(write_key, host=host, on_error=on_error, max_retries=0, upload_interval=0.1)


@pytest.mark.parametrize("sdk", ["segment", "rudder"])
def test_sdk_sends_a_lead_with_traits_and_its_anonymous_history_is_scored(
    sdk, live_server, source, visit_rule
):
    errors: list[Exception] = []
    client = _client(sdk, source.write_key, live_server.url, errors)
    anon = str(uuid.uuid4())
    email = f"{sdk}-lead@example.co.jp"

    # given: two anonymous page views, one with UTM parameters
    client.page(
        anonymous_id=anon,
        name="Pricing",
        properties={"url": "https://www.example.co.jp/pricing", "path": "/pricing"},
        context={"campaign": {"name": "spring", "source": "google", "medium": "cpc"}},
    )
    client.page(anonymous_id=anon, properties={"path": "/"})
    client.flush()
    assert Event.objects.filter(anonymous_id=anon, lead__isnull=True).count() == 2

    # when: the visitor is identified, downloads a document and is put in a company
    client.identify(
        user_id=f"crm-{sdk}",
        anonymous_id=anon,
        traits={
            "email": email,
            "lastName": "山田",
            "firstName": "太郎",
            "company": {"name": "株式会社サンプル"},
            "title": "部長",
            "employees": 250,
            "plan": "enterprise",
        },
    )
    client.track(user_id=f"crm-{sdk}", event="Document Downloaded", properties={"id": "wp-1"})
    client.group(user_id=f"crm-{sdk}", group_id="acct-7", traits={"industry": "製造業"})
    client.flush()
    client.shutdown()

    # then
    assert errors == []
    lead = LeadView.objects.get(email=email)
    assert (lead.last_name, lead.first_name, lead.company, lead.title, lead.employees) == (
        "山田",
        "太郎",
        "株式会社サンプル",
        "部長",
        250,
    )
    assert (lead.external_id, lead.industry, lead.source_id) == (f"crm-{sdk}", "製造業", source.pk)
    assert lead.traits["plan"] == "enterprise"
    assert sorted(lead.events.values_list("type", flat=True)) == [
        "group",
        "identify",
        "page",
        "page",
        "track",
    ]
    pricing = lead.events.get(name="Pricing")
    assert pricing.campaign == {"name": "spring", "source": "google", "medium": "cpc"}
    assert pricing.context["library"]["name"] == "analytics-python"
    assert lead.score == 10  # the two anonymous page views, 5 points each


@pytest.mark.parametrize("sdk", ["segment", "rudder"])
def test_sdk_retry_of_the_same_message_is_stored_once(sdk, live_server, source):
    errors: list[Exception] = []
    client = _client(sdk, source.write_key, live_server.url, errors)
    for _ in range(3):
        client.track(user_id="u-1", event="Email Opened", message_id="fixed-message-id")
        client.flush()
    client.shutdown()
    assert errors == []
    assert Event.objects.filter(message_id="fixed-message-id").count() == 1


@pytest.mark.parametrize("sdk", ["segment", "rudder"])
def test_sdk_with_a_wrong_write_key_reports_401(sdk, live_server, source):
    errors: list[Exception] = []
    client = _client(sdk, "wk_not_a_key", live_server.url, errors)
    client.track(user_id="u-1", event="Email Opened")
    client.flush()
    client.shutdown()
    assert [getattr(e, "status", None) for e in errors] == [401]
    assert Event.objects.count() == 0


@pytest.mark.parametrize("sdk", ["segment", "rudder"])
def test_sdk_with_a_server_key_keeps_segment_semantics(sdk, live_server):
    """A source made with no allowed origins is a server key: alias merges two known leads and
    identify overwrites, as Segment does (docs/security.md)."""
    from mqlapp.leads.models import LeadMerge
    from mqlapp.leads.services import source_create

    server = source_create(name="Backend", allowed_origins=[])
    assert server.kind == "server"
    errors: list[Exception] = []
    client = _client(sdk, server.write_key, live_server.url, errors)
    client.identify(user_id="crm-1", traits={"email": f"one-{sdk}@example.co.jp", "title": "A"})
    client.identify(user_id="crm-2", traits={"email": f"two-{sdk}@example.co.jp"})
    client.flush()
    client.identify(user_id="crm-1", traits={"email": f"one-{sdk}@example.co.jp", "title": "B"})
    client.alias(previous_id="crm-2", user_id="crm-1")
    client.flush()
    client.shutdown()
    assert errors == []
    lead = LeadView.objects.get(external_id="crm-1")
    assert lead.title == "B"
    assert LeadMerge.objects.get().into_id == lead.pk
    assert LeadView.objects.count() == 1


@pytest.mark.parametrize("sdk", ["segment", "rudder"])
def test_sdk_with_a_browser_key_is_told_why_an_alias_is_refused(sdk, live_server):
    from mqlapp.leads.services import source_create

    browser = source_create(name="Tag", allowed_origins=["https://www.example.co.jp"])
    server = source_create(name="Backend", allowed_origins=[])
    errors: list[Exception] = []
    backend = _client(sdk, server.write_key, live_server.url, errors)
    for n in (1, 2):
        backend.identify(user_id=f"crm-{n}", traits={"email": f"{n}-{sdk}@example.co.jp"})
    backend.flush()
    backend.shutdown()
    page_key = _client(sdk, browser.write_key, live_server.url, errors)
    page_key.alias(previous_id="crm-2", user_id="crm-1")
    page_key.flush()
    page_key.shutdown()
    assert errors == []  # the batch is answered 200, the alias named in "rejected"
    assert LeadView.objects.count() == 2
