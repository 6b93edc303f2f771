"""What the official browser SDKs ask of the API (issue 12), over HTTP: their settings, CORS,
analytics.js's short paths and auth, batch-level fields, the batch limit, RudderStack's fields.
The SDKs themselves run in Chromium in tests/browser_sdk."""

import base64
import json
import os

import pytest
from django.test import Client

from mqlapp.leads.models import Event
from mqlapp.leads.services import source_create

pytestmark = pytest.mark.django_db

SITE = "https://www.example.co.jp"


@pytest.fixture
def site_source():
    return source_create(name="Corporate site", allowed_origins=[SITE])


def _segment(key, origin=SITE, **extra):
    return Client().get(f"/v1/projects/{key}/settings", HTTP_ORIGIN=origin, **extra)


def _rudder(key, origin=SITE):
    return Client().get(
        "/sourceConfig/",
        {"p": "npm", "v": "3.34.1", "build": "modern", "writeKey": key},
        HTTP_ORIGIN=origin,
    )


# --- settings -----------------------------------------------------------------------------


def test_segment_settings_point_the_library_back_here(site_source, settings):
    settings.ALLOWED_HOSTS = ["mql.example.com"]
    response = _segment(site_source.write_key, HTTP_HOST="mql.example.com", secure=True)
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == SITE
    segmentio = response.json()["integrations"]["Segment.io"]
    assert segmentio["apiHost"] == "mql.example.com/v1"
    assert segmentio["protocol"] == "https"
    assert segmentio["apiKey"] == site_source.write_key
    # nothing else to load and nothing sent anywhere else
    assert list(response.json()["integrations"]) == ["Segment.io"]
    assert response.json()["metrics"]["sampleRate"] == 0
    assert response.json()["remotePlugins"] == []


def test_rudderstack_source_config_is_enabled_with_no_destinations(site_source):
    response = _rudder(site_source.write_key)
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == SITE
    config = response.json()["source"]
    assert config["enabled"] is True
    assert config["destinations"] == []
    assert config["id"]
    assert isinstance(config["config"], dict)


def test_an_unknown_inactive_or_refused_key_gets_one_constant_disabled_answer(site_source):
    inactive = source_create(name="Old site", allowed_origins=[SITE])
    inactive.active = False
    inactive.save()
    cases = [
        ("wk_unknown", SITE),
        (inactive.write_key, SITE),
        (site_source.write_key, "https://evil.example"),
    ]
    segment = [_segment(key, origin) for key, origin in cases]
    rudder = [_rudder(key, origin) for key, origin in cases]
    # RudderStack stops on enabled: false. analytics.js has no such setting: it gets the same
    # settings with no key, pointing back here, where its events are refused (401) and dropped.
    assert {r.status_code for r in segment + rudder} == {200}
    assert len({r.content for r in segment}) == 1
    assert len({r.content for r in rudder}) == 1
    assert rudder[0].json()["source"]["enabled"] is False
    assert segment[0].json()["integrations"]["Segment.io"]["apiHost"] == "testserver/v1"
    assert segment[0].json()["integrations"]["Segment.io"]["apiKey"] == ""
    for response in segment + rudder:
        assert response["Access-Control-Allow-Origin"] == "*"  # readable, names nothing
        assert site_source.write_key.encode() not in response.content
        assert b"Corporate" not in response.content


def test_error_answers_are_readable_by_the_page_so_sdks_drop_a_4xx(site_source):
    """Without CORS on an error answer a browser SDK sees a network error and retries it."""
    unknown = Client().post(
        "/v1/t",
        json.dumps({"writeKey": "wk_nope", "event": "X", "anonymousId": "a"}),
        content_type="text/plain",
        HTTP_ORIGIN=SITE,
    )
    malformed = Client().post(
        "/v1/t",
        "{not json",
        content_type="text/plain",
        HTTP_ORIGIN=SITE,
        HTTP_AUTHORIZATION=f"Bearer {site_source.write_key}",
    )
    assert (unknown.status_code, malformed.status_code) == (401, 400)
    for response in (unknown, malformed):
        assert response["Access-Control-Allow-Origin"] == SITE
        assert "Access-Control-Allow-Credentials" not in response


def test_settings_preflight_and_methods(site_source):
    preflight = Client().options(
        "/sourceConfig/",
        HTTP_ORIGIN=SITE,
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization",
    )
    assert preflight.status_code == 204
    assert "Authorization" in preflight["Access-Control-Allow-Headers"]
    refused = Client().post(f"/v1/projects/{site_source.write_key}/settings", {})
    assert refused.status_code == 405
    assert refused.json()["code"] == "method"


def test_event_preflight_allows_the_headers_the_sdks_send(site_source):
    preflight = Client().options("/v1/t", HTTP_ORIGIN=SITE)
    allowed = preflight["Access-Control-Allow-Headers"]
    for header in ("Authorization", "X-Retry-Count", "AnonymousId", "Content-Type"):
        assert header in allowed


# --- analytics.js's paths and auth ------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "kind"),
    [
        ("/v1/t", {"event": "Demo Requested"}, "track"),
        ("/v1/p", {"name": "Pricing"}, "page"),
        ("/v1/i", {"traits": {"email": "a@example.co.jp"}}, "identify"),
        ("/v1/g", {"groupId": "acme"}, "group"),
        ("/v1/s", {"name": "Home"}, "screen"),
    ],
)
def test_short_paths_take_text_plain_json_with_the_key_in_the_body(site_source, path, body, kind):
    payload = {"anonymousId": "anon-1", "writeKey": site_source.write_key, **body}
    response = Client().post(path, json.dumps(payload), content_type="text/plain")
    assert response.status_code == 200, response.content
    assert Event.objects.get().type == kind


def test_short_alias_and_batch_paths(site_source):
    auth = "Basic " + base64.b64encode(f"{site_source.write_key}:".encode()).decode()
    alias = {"previousId": "anon-1", "userId": "crm-1"}
    batch = {"batch": [{"type": "track", "event": "Seen", "anonymousId": "anon-2"}]}
    for path, body in (("/v1/a", alias), ("/v1/b", batch)):
        response = Client().post(
            path, json.dumps(body), content_type="text/plain", HTTP_AUTHORIZATION=auth
        )
        assert response.status_code == 200, response.content
    assert Event.objects.filter(name="Seen").exists()


def test_bearer_write_key(site_source):
    body = {"batch": [{"type": "page", "anonymousId": "anon-1"}]}
    good = Client().post(
        "/v1/b",
        json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {site_source.write_key}",
    )
    bad = Client().post(
        "/v1/b", json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION="Bearer x"
    )
    assert good.status_code == 200
    assert bad.status_code == 401
    assert Event.objects.count() == 1


def test_batch_level_sent_at_context_and_integrations_apply_to_every_message(site_source):
    body = {
        "writeKey": site_source.write_key,
        "sentAt": "2026-01-01T00:00:10Z",
        "context": {"library": {"name": "batcher"}, "locale": "ja-JP"},
        "integrations": {"All": True},
        "batch": [
            {
                "type": "track",
                "event": "A",
                "anonymousId": "x",
                "timestamp": "2026-01-01T00:00:00Z",
            },
            {
                "type": "track",
                "event": "B",
                "anonymousId": "x",
                "timestamp": "2026-01-01T00:00:00Z",
                "context": {"locale": "en-US"},
            },
        ],
    }
    response = Client().post("/v1/b", json.dumps(body), content_type="text/plain")
    assert response.status_code == 200, response.content
    a, b = Event.objects.get(name="A"), Event.objects.get(name="B")
    assert a.context == {"library": {"name": "batcher"}, "locale": "ja-JP"}
    assert b.context == {"library": {"name": "batcher"}, "locale": "en-US"}  # message wins
    # the batch's sentAt corrected both clocks alike (received now, sent "10 s after" the event)
    assert a.timestamp == b.timestamp
    # timestamp + (receivedAt - sentAt): 10 s before it was received
    assert abs((a.received_at - a.timestamp).total_seconds() - 10) < 1


def test_a_batch_over_2500_messages_is_refused_naming_the_limit(site_source):
    one = {"type": "page", "anonymousId": "a"}
    body = {"writeKey": site_source.write_key, "batch": [one] * 2501}
    response = Client().post("/v1/batch", json.dumps(body), content_type="text/plain")
    assert response.status_code == 413
    assert response.json()["limit_messages"] == 2500
    assert "2500" in response.json()["error"]
    assert not Event.objects.exists()
    body["batch"] = [one] * 2500
    response = Client().post("/v1/batch", json.dumps(body), content_type="text/plain")
    assert response.status_code == 200


def test_rudderstack_fields_map_onto_the_message(site_source):
    body = {
        "batch": [
            {
                "type": "track",
                "event": "Old SDK",
                "rudderId": "rudder-anon",
                "channel": "web",
                "originalTimestamp": "2026-01-01T00:00:00.000Z",
                "sentAt": "2026-01-01T00:00:00.000Z",
            }
        ],
        "sentAt": "2026-01-01T00:00:00.000Z",
    }
    response = Client().post(
        "/v1/batch",
        json.dumps(body),
        content_type="application/json;charset=UTF-8",
        HTTP_AUTHORIZATION="Basic "
        + base64.b64encode(f"{site_source.write_key}:".encode()).decode(),
        HTTP_ANONYMOUSID=base64.b64encode(b"rudder-anon").decode(),
    )
    assert response.status_code == 200, response.content
    event = Event.objects.get()
    assert event.anonymous_id == "rudder-anon"
    assert event.context["channel"] == "web"


# --- the sources page -------------------------------------------------------------------------


def test_sources_page_shows_each_sdks_settings_and_the_queueing_tag(site_source, make_user):
    import html

    from tests.conftest import signed_in

    server = source_create(name="Back end", allowed_origins=[], kind="server")
    page = html.unescape(signed_in(make_user("admin")).get("/sources/").content.decode())
    browser_part = page[page.index(f'data-testid="source-{site_source.pk}"') :]
    browser_part = browser_part[: browser_part.index("</section>")]
    server_part = page[page.index(f'data-testid="source-{server.pk}"') :]
    server_part = server_part[: server_part.index("</section>")]
    key = site_source.write_key
    # the browser key: the tag, with the stub that queues calls made before mql.js loads
    assert "window.mql=window.mql||[]" in browser_part
    assert f'/static/mqlapp/mql.js" data-write-key="{key}"' in browser_part
    # analytics.js: the settings host and the Segment.io integration's host
    assert 'analytics._cdn = "http://testserver";' in browser_part
    assert '"apiHost": "testserver/v1", "protocol": "http"' in browser_part
    assert 'cdnURL: "http://testserver"' in browser_part
    # RudderStack v3: data plane and config URL
    rudder = (
        f'rudderanalytics.load("{key}", "http://testserver", {{ configUrl: "http://testserver" }});'
    )
    assert rudder in browser_part
    # the server key: the server SDKs' host
    assert f'analytics.write_key = "{server.write_key}"; analytics.host = "http://testserver"' in (
        server_part
    )
    assert 'rudder_analytics.dataPlaneUrl = "http://testserver"' in server_part
    assert "window.mql" not in server_part


def test_rudderstack_beacon_batch_takes_the_key_from_the_query_string(site_source):
    body = {"batch": [{"type": "page", "anonymousId": "beacon-1"}], "sentAt": None}
    response = Client().post(
        f"/beacon/v1/batch?writeKey={site_source.write_key}",
        json.dumps(body),
        content_type="text/plain;charset=UTF-8",
        HTTP_ORIGIN=SITE,
    )
    assert response.status_code == 200, response.content
    assert Event.objects.get().anonymous_id == "beacon-1"
    wrong = Client().post("/beacon/v1/batch?writeKey=wk_nope", json.dumps(body), "text/plain")
    assert wrong.status_code == 401


@pytest.mark.skipif(
    not os.environ.get("MQLAPP_TEST_REDIS_URL"), reason="the rate limit counts in Redis"
)
def test_a_rate_limited_answer_shows_retry_after_to_the_page(site_source, settings):
    """A browser SDK waits Retry-After before retrying a 429 only if the page can read it."""
    import redis

    from mqlapp.leads.ingest import ratelimit
    from tests.conftest import _worker_redis_url

    url = _worker_redis_url(os.environ["MQLAPP_TEST_REDIS_URL"])
    for key in redis.Redis.from_url(url).scan_iter("mqlapp:ingest-rate:*"):
        redis.Redis.from_url(url).delete(key)
    settings.INGEST_RATE_REDIS_URL = url
    settings.INGEST_RATE_LIMIT = 1
    ratelimit._State.failed_until = 0.0
    body = {"writeKey": site_source.write_key, "batch": [{"type": "page", "anonymousId": "a"}]}
    answers = [
        Client().post("/v1/b", json.dumps(body), content_type="text/plain", HTTP_ORIGIN=SITE)
        for _ in range(2)
    ]
    assert [a.status_code for a in answers] == [200, 429]
    assert answers[1]["Access-Control-Allow-Origin"] == SITE
    assert int(answers[1]["Retry-After"]) > 0
    assert "Retry-After" in answers[1]["Access-Control-Expose-Headers"]
