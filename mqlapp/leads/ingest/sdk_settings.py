"""The settings the official browser SDKs fetch when they load, answered from the write key.

- Segment's analytics.js (analytics-next): `GET <cdnURL>/v1/projects/<writeKey>/settings`. The
  answer's `Segment.io` integration points back at this app (`apiHost` = this host + `/v1`), so a
  site that sets only `cdnURL` (or the snippet's `_cdn`) sends its events here. No destinations,
  no middleware, no remote plugins and a zero metrics sample rate: the library loads nothing else
  and sends nothing anywhere else.
- RudderStack's JavaScript SDK v3: `GET <configUrl>/sourceConfig/?writeKey=<key>`: the source,
  enabled, with no destinations (so no device-mode SDK is fetched) and no stats collection.

CORS: an origin in the source's `allowed_origins` gets its own origin back. An unknown or
inactive key, or an origin the source does not allow, gets one constant answer, readable from
any origin and the same in all three cases (it names no source and tells a prober nothing):
- RudderStack: a source with `enabled: false`, on which it logs "source disabled" and stops.
- analytics.js has no "disabled" setting, and a failed settings fetch makes its standalone build
  report the failure to Segment's own metrics host. So it gets the same settings without a key,
  pointing back here: whatever it sends is refused here with 401, which it drops (a 4xx is
  never retried), and nothing goes anywhere else.
"""

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse

from ..auth import source_for_write_key, write_key_from_request
from ..models import Source

# RudderStack v3 checks `source.id`, `source.config` and `source.destinations` before it reads
# `source.enabled` (a missing id is "invalid config", a different error): all present here.
RUDDERSTACK_DISABLED = {
    "isHosted": False,
    "source": {
        "id": "disabled",
        "name": "",
        "writeKey": "",
        "workspaceId": "",
        "enabled": False,
        "config": {},
        "destinations": [],
    },
}
# The headers the SDKs send on their own requests (a preflight must allow them): analytics.js
# adds X-Retry-Count on a retry, RudderStack v3 an AnonymousId header on each event.
SDK_REQUEST_HEADERS = "Content-Type, Authorization, Content-Encoding, X-Retry-Count, AnonymousId"


def _allowed(source: Source, origin: str) -> bool:
    return not origin or origin in source.allowed_origins or "*" in source.allowed_origins


def _cors(response: HttpResponse, request: HttpRequest, *, source_allows: bool) -> HttpResponse:
    origin = request.META.get("HTTP_ORIGIN", "")
    response["Vary"] = "Origin"
    if source_allows and origin:
        response["Access-Control-Allow-Origin"] = origin
    else:
        response["Access-Control-Allow-Origin"] = "*"  # the constant "disabled" answer only
    response["Cache-Control"] = "no-store"
    return response


def _preflight(request: HttpRequest) -> HttpResponse:
    """Settings are fetched with GET; RudderStack adds `Authorization`, hence a preflight."""
    response = HttpResponse(status=204)
    if request.META.get("HTTP_ORIGIN"):
        response["Access-Control-Allow-Origin"] = request.META["HTTP_ORIGIN"]
        response["Access-Control-Allow-Methods"] = "GET, OPTIONS"
        response["Access-Control-Allow-Headers"] = SDK_REQUEST_HEADERS
        response["Access-Control-Max-Age"] = "86400"
        response["Vary"] = "Origin"
    return response


def _not_allowed() -> HttpResponse:
    response = JsonResponse({"error": "Use GET.", "code": "method"}, status=405)
    response["Allow"] = "GET, HEAD, OPTIONS"
    return response


def _active_source(request: HttpRequest, key: str | None) -> Source | None:
    source = source_for_write_key(key)
    if source is None or not _allowed(source, request.META.get("HTTP_ORIGIN", "")):
        return None
    return source


def _api_host(request: HttpRequest) -> tuple[str, str]:
    """(host + "/v1", "https" | "http") of this app as the browser reached it."""
    return f"{request.get_host()}/v1", "https" if request.is_secure() else "http"


def segment_settings_body(request: HttpRequest, source: Source | None) -> dict[str, Any]:
    """The project settings; with no source, the "disabled" answer: the same, keyless."""
    api_host, protocol = _api_host(request)
    return {
        "integrations": {
            "Segment.io": {
                "apiKey": source.write_key if source else "",
                "apiHost": api_host,
                "protocol": protocol,
                "unbundledIntegrations": [],
                "addBundledMetadata": True,
                "maybeBundledConfigIds": {},
            }
        },
        "plan": {
            "track": {"__default": {"enabled": True, "integrations": {}}},
            "identify": {"__default": {"enabled": True}},
            "group": {"__default": {"enabled": True}},
        },
        "analyticsNextEnabled": True,
        "middlewareSettings": {},
        "enabledMiddleware": {},
        "metrics": {"sampleRate": 0},
        "legacyVideoPluginsEnabled": False,
        "remotePlugins": [],
    }


def rudderstack_config_body(source: Source) -> dict[str, Any]:
    return {
        "isHosted": False,
        "source": {
            "id": f"mqlapp-{source.pk}",
            "name": source.name,
            "writeKey": source.write_key,
            "workspaceId": "mqlapp",
            "enabled": True,
            "config": {"statsCollection": {"errors": {"enabled": False}}},
            "destinations": [],
        },
    }


def segment_settings(request: HttpRequest, write_key: str) -> HttpResponse:
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        return _not_allowed()
    if request.method == "OPTIONS":
        return _preflight(request)
    source = _active_source(request, write_key)
    body = segment_settings_body(request, source)
    return _cors(JsonResponse(body), request, source_allows=source is not None)


def rudderstack_source_config(request: HttpRequest) -> HttpResponse:
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        return _not_allowed()
    if request.method == "OPTIONS":
        return _preflight(request)
    key = request.GET.get("writeKey") or write_key_from_request(request, None)
    source = _active_source(request, key)
    if source is None:
        return _cors(JsonResponse(RUDDERSTACK_DISABLED), request, source_allows=False)
    return _cors(JsonResponse(rudderstack_config_body(source)), request, source_allows=True)
