"""Segment's analytics.js and RudderStack's JavaScript SDK v3, unmodified, in Chromium.

Each library comes from the npm registry at test setup (conftest.py), sits on a page of another
origin, and is pointed at the live server by its host settings only. Page, identify and track
calls, and calls made before the library loaded, arrive and score.
"""

import json
import time
from typing import Any
from urllib.parse import urlsplit

import pytest

from handoff.models import LeadView
from mqlapp.leads.models import Event
from mqlapp.leads.services import source_create
from tests.browser_sdk.conftest import requires_chromium_and_npm

pytestmark = [
    requires_chromium_and_npm,
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]

SEGMENT_STANDALONE = "/node_modules/@segment/analytics-next/dist/umd/standalone.js"
SEGMENT_UMD = "/node_modules/@segment/analytics-next/dist/umd/index.js"
RUDDERSTACK_UMD = "/node_modules/@rudderstack/analytics-js/dist/npm/modern/bundled/umd/index.js"


@pytest.fixture
def rules(db: Any) -> None:
    """A page view is worth 5 points, a demo request 30."""
    from scoring.services import rule_create

    rule_create(data={"name": "Visit", "kind": "behavior", "event": "page", "points": 5})
    rule_create(data={"name": "Demo", "kind": "behavior", "event": "Demo Requested", "points": 30})


def _host(url: str) -> str:
    return url.split("://", 1)[1]


def _segment_snippet_page(app: str, key: str, script: str, *, api_host: bool = True) -> str:
    """The Segment snippet's job, written out: a queue that takes calls before analytics.js
    loads, the write key, the settings host (`_cdn`) and the load options, then the script."""
    segmentio = {"apiHost": f"{_host(app)}/v1", "protocol": "http"}
    options = {"integrations": {"Segment.io": segmentio}} if api_host else {}
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>製品ページ</title>
<script>
  var analytics = (window.analytics = window.analytics || []);
  ["page", "identify", "track", "group", "alias", "ready"].forEach(function (method) {{
    analytics[method] = function () {{
      var call = Array.prototype.slice.call(arguments);
      call.unshift(method);
      analytics.push(call);
      return analytics;
    }};
  }});
  analytics._writeKey = {json.dumps(key)};
  analytics._cdn = {json.dumps(app)};
  analytics._loadOptions = {json.dumps(options)};
  analytics.page();
  analytics.track("Queued Before Load", {{"plan": "pro"}});
</script>
<script async src="{script}"></script>
</head><body><h1>製品</h1></body></html>"""


def _arrives(check: Any, page: Any, traffic: Any, *, timeout: float = 30) -> Any:
    """Poll `check()` while the browser runs (the route handler that lets requests through is
    Python code: a plain sleep would stall the page); on time-out say what the page did."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(
                f"condition not met within {timeout} s: last value {value!r}"
                f"\nrequests: {traffic.requests}\nrefused: {traffic.refused}"
                f"\nresponses: {traffic.responses}\nconsole: {traffic.console}"
            )
        page.wait_for_timeout(200)


def _lead(email: str, score: int, page: Any, traffic: Any) -> Any:
    return _arrives(
        lambda: LeadView.objects.filter(email=email, scoring__score=score).first(), page, traffic
    )


@pytest.mark.parametrize("api_host", [True, False], ids=["cdn-and-api-host", "cdn-only"])
def test_segment_snippet_sends_page_identify_track_and_queued_calls(
    sdk_browser, sdk_site, app_url, rules, api_host
):
    page, traffic = sdk_browser
    source = source_create(name="Corporate site", allowed_origins=[sdk_site.origin])
    url = sdk_site.page(
        "product.html",
        _segment_snippet_page(
            app_url, source.write_key, sdk_site.origin + SEGMENT_STANDALONE, api_host=api_host
        ),
    )

    page.goto(url)
    _arrives(lambda: Event.objects.filter(name="Queued Before Load").exists(), page, traffic)
    # the SDK sends each call in a request of its own: the page view may come second
    view = _arrives(lambda: Event.objects.filter(type="page").first(), page, traffic)
    assert view.properties["path"] == "/product.html"
    assert view.properties["title"] == "製品ページ"
    assert view.context["library"]["name"] == "analytics.js"
    queued = Event.objects.get(name="Queued Before Load")
    assert queued.properties == {"plan": "pro"}
    assert queued.anonymous_id == view.anonymous_id

    page.evaluate(
        "analytics.identify('crm-42', {email: 'Buyer@Example.co.jp', lastName: '鈴木'})"
        ".then(() => analytics.track('Demo Requested', {product: 'mql'}))"
    )
    lead = _lead("buyer@example.co.jp", 35, page, traffic)
    assert (lead.last_name, lead.external_id) == ("鈴木", "crm-42")
    assert sorted(lead.events.values_list("type", flat=True)) == [
        "identify",
        "page",
        "track",
        "track",
    ]
    assert traffic.refused == []
    assert traffic.failures(app_url) == []
    settings = f"{app_url}/v1/projects/{source.write_key}/settings"
    assert ("GET", settings) in traffic.to(app_url)


def _segment_npm_page(app: str, key: str, script: str) -> str:
    """analytics-next as an npm package (its UMD build): `cdnURL` and the `Segment.io`
    integration's `apiHost`/`protocol`, here with the batching delivery strategy (`/v1/b`)."""
    settings = {"writeKey": key, "cdnURL": app}
    options = {
        "integrations": {
            "Segment.io": {
                "apiHost": f"{_host(app)}/v1",
                "protocol": "http",
                "deliveryStrategy": {"strategy": "batching", "config": {"size": 3, "timeout": 300}},
            }
        }
    }
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>事例</title>
<script src="{script}"></script>
<script>
  window.analytics = AnalyticsNext.AnalyticsBrowser.load({json.dumps(settings)},
                                                         {json.dumps(options)});
  analytics.page();
  analytics.track("Queued Before Load", {{"plan": "pro"}});
</script>
</head><body><h1>事例</h1></body></html>"""


def test_segment_npm_build_batches_to_the_short_batch_path(sdk_browser, sdk_site, app_url, rules):
    page, traffic = sdk_browser
    source = source_create(name="Corporate site", allowed_origins=[sdk_site.origin])
    url = sdk_site.page(
        "cases.html", _segment_npm_page(app_url, source.write_key, sdk_site.origin + SEGMENT_UMD)
    )

    page.goto(url)
    _arrives(lambda: Event.objects.filter(name="Queued Before Load").exists(), page, traffic)
    # the SDK sends each call in a request of its own: the page view may come second
    view = _arrives(lambda: Event.objects.filter(type="page").first(), page, traffic)
    assert view.properties["path"] == "/cases.html"
    assert Event.objects.get(name="Queued Before Load").anonymous_id == view.anonymous_id

    page.evaluate(
        "analytics.identify('crm-44', {email: 'Npm@Example.co.jp'});"
        "analytics.track('Demo Requested')"
    )
    _lead("npm@example.co.jp", 35, page, traffic)
    assert traffic.refused == []
    assert traffic.failures(app_url) == []
    posts = {urlsplit(url).path for method, url in traffic.to(app_url) if method == "POST"}
    assert posts == {"/v1/b"}


def _rudderstack_page(app: str, key: str, script: str, *, delivery: str) -> str:
    """RudderStack v3 from its UMD bundle (all plugins inside: nothing is fetched from a CDN),
    pointed here by `dataPlaneUrl` and `configUrl`; calls made before it has its config are
    buffered by the library and sent once it has."""
    options: dict[str, Any] = {
        "configUrl": app,
        "logLevel": "ERROR",
        # nothing to fetch: the bundled build carries its plugins, and there are no destinations
        "pluginsSDKBaseURL": app + "/static/none",
        "destSDKBaseURL": app + "/static/none",
    }
    if delivery == "batched":
        options["queueOptions"] = {"batch": {"enabled": True, "maxItems": 5, "flushInterval": 500}}
    if delivery == "beacon":
        options["useBeacon"] = True
        options["beaconQueueOptions"] = {"maxItems": 5, "flushQueueInterval": 500}
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>料金</title>
<script src="{script}"></script>
<script>
  window.rudderanalytics = new rudderanalytics.RudderAnalytics();
  rudderanalytics.load({json.dumps(key)}, {json.dumps(app)}, {json.dumps(options)});
  rudderanalytics.page();
  rudderanalytics.track("Queued Before Load", {{"plan": "pro"}});
</script>
</head><body><h1>料金</h1></body></html>"""


@pytest.mark.parametrize("delivery", ["one-by-one", "batched", "beacon"])
def test_rudderstack_v3_sends_page_identify_track_and_early_calls(
    sdk_browser, sdk_site, app_url, rules, delivery
):
    page, traffic = sdk_browser
    source = source_create(name="Corporate site", allowed_origins=[sdk_site.origin])
    url = sdk_site.page(
        "pricing.html",
        _rudderstack_page(
            app_url, source.write_key, sdk_site.origin + RUDDERSTACK_UMD, delivery=delivery
        ),
    )

    page.goto(url)
    _arrives(lambda: Event.objects.filter(name="Queued Before Load").exists(), page, traffic)
    view = _arrives(lambda: Event.objects.filter(type="page").first(), page, traffic)
    assert view.properties["path"] == "/pricing.html"
    assert view.context["library"]["name"] == "RudderLabs JavaScript SDK"
    assert view.context["channel"] == "web"
    queued = Event.objects.get(name="Queued Before Load")
    assert queued.properties == {"plan": "pro"}
    assert queued.anonymous_id == view.anonymous_id

    page.evaluate(
        "rudderanalytics.identify('crm-43', {email: 'Rudder@Example.co.jp', lastName: '高橋'});"
        "rudderanalytics.track('Demo Requested', {product: 'mql'})"
    )
    lead = _lead("rudder@example.co.jp", 35, page, traffic)
    assert (lead.last_name, lead.external_id) == ("高橋", "crm-43")
    assert sorted(lead.events.values_list("type", flat=True)) == [
        "identify",
        "page",
        "track",
        "track",
    ]
    assert traffic.refused == []
    assert traffic.failures(app_url) == []
    paths = {(method, urlsplit(url).path) for method, url in traffic.to(app_url)}
    config = [url for method, url in traffic.to(app_url) if "/sourceConfig/" in url]
    assert config, traffic.requests
    assert f"writeKey={source.write_key}" in config[0]
    posts = {path for method, path in paths if method == "POST"}
    assert (
        posts
        == {
            "one-by-one": {"/v1/page", "/v1/identify", "/v1/track"},
            "batched": {"/v1/batch"},
            "beacon": {"/beacon/v1/batch"},
        }[delivery]
    )


def test_the_sources_page_tag_queues_inline_calls_made_before_mql_js_loads(
    sdk_browser, sdk_site, app_url, rules
):
    """The tag exactly as the sources page gives it, then inline code calling window.mql at
    once: no error, and the calls arrive when mql.js has loaded."""
    from mqlapp.console.source_snippets import tracking_tag

    page, traffic = sdk_browser
    source = source_create(name="Corporate site", allowed_origins=[sdk_site.origin])
    tag = tracking_tag(app_url, "/static/mqlapp/mql.js", source.write_key)
    inline = """<script>
  window.beforeLoad = !window.mql.loaded;
  mql.identify("crm-45", {email: "Inline@Example.co.jp"});
  mql.track("Demo Requested", {from: "inline"});
</script>"""
    url = sdk_site.page(
        "inline.html",
        f'<!doctype html><html><head><meta charset="utf-8">{tag}{inline}</head><body></body>',
    )

    page.goto(url)
    lead = _lead("inline@example.co.jp", 35, page, traffic)  # its page view and the demo
    assert page.evaluate("window.beforeLoad") is True
    assert page.evaluate("window.mql.loaded") is True
    assert not [line for line in traffic.console if line.startswith("page error")]
    assert lead.external_id == "crm-45"
    assert lead.events.get(name="Demo Requested").properties == {"from": "inline"}
    assert traffic.refused == []
    assert traffic.failures(app_url) == []


@pytest.mark.parametrize("library", ["segment", "rudderstack"])
def test_an_unknown_write_key_leaves_the_library_disabled(sdk_browser, sdk_site, app_url, library):
    """The settings answer of an unknown key: RudderStack stops; analytics.js sends here only,
    is refused and drops its calls. Neither reaches any other host (every request off
    127.0.0.1 would be recorded) and nothing is stored."""
    page, traffic = sdk_browser
    source_create(name="Corporate site", allowed_origins=[sdk_site.origin])
    if library == "segment":
        # only `_cdn` set: where it sends is what the settings answer says
        html = _segment_snippet_page(
            app_url, "wk_unknown", sdk_site.origin + SEGMENT_STANDALONE, api_host=False
        )
        settings_path = "/v1/projects/wk_unknown/settings"
    else:
        html = _rudderstack_page(
            app_url, "wk_unknown", sdk_site.origin + RUDDERSTACK_UMD, delivery="one-by-one"
        )
        settings_path = "/sourceConfig/"
    page.goto(sdk_site.page("off.html", html))
    _arrives(
        lambda: any(urlsplit(url).path == settings_path for _, url in traffic.responses),
        page,
        traffic,
    )
    if library == "rudderstack":
        _arrives(lambda: any("disabled" in line for line in traffic.console), page, traffic)
    page.wait_for_timeout(3000)  # time enough to send, and to retry what it would retry
    posts = [urlsplit(url).path for method, url in traffic.to(app_url) if method == "POST"]
    if library == "segment":
        # pointed back here, its two calls are refused and dropped: sent once each, no retry
        assert sorted(posts) == ["/v1/p", "/v1/t"]
        assert {
            status for status, url in traffic.responses if "/v1/" in url and "/settings" not in url
        } == {401}
    else:
        assert posts == []
    assert traffic.refused == []
    assert not Event.objects.exists()
