"""HTTP front of the Tracking API (/v1/*): limits, gzip, write-key auth, CORS, JSON answers."""

import json
import logging
import math
import zlib
from datetime import datetime
from http import HTTPStatus
from typing import Any

import orjson
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from ..auth import source_for_write_key, write_key_from_request
from ..errors import DATABASE_UNAVAILABLE, RETRY_AFTER_SECONDS
from ..models import Source
from .inbox import inbox_deferred, inbox_put
from .messages import Message, _parse_time
from .ratelimit import write_key_rate_check
from .sdk_settings import SDK_REQUEST_HEADERS
from .services import events_ingest, messages_validate

log = logging.getLogger(__name__)


class _TooLarge(Exception):
    pass


ERROR_CODES = {
    400: "invalid",
    401: "unauthorized",
    403: "origin_refused",
    405: "method",
    413: "too_large",
    429: "rate_limited",
    503: "unavailable",
}


def _error(status: int, message: str, **extra: Any) -> JsonResponse:
    # "code" and "message" are what the Segment and RudderStack SDKs log from an error answer.
    code = ERROR_CODES.get(status, "error")
    body = {"success": False, "error": message, "code": code, "message": message, **extra}
    return JsonResponse(body, status=status)


def _read_body(request: HttpRequest) -> bytes:
    limit = settings.INGEST_MAX_REQUEST_BYTES
    length = int(request.META.get("CONTENT_LENGTH") or 0)
    if length > limit:
        raise _TooLarge
    body = request.body
    if request.META.get("HTTP_CONTENT_ENCODING", "").lower() in ("gzip", "x-gzip"):
        try:
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            body = inflater.decompress(body, limit + 1)
        except zlib.error as exc:
            raise ValueError(f"body is not valid gzip: {exc}") from exc
    if len(body) > limit:
        raise _TooLarge
    return body


def _cors(response: HttpResponse, origin: str) -> HttpResponse:
    response["Access-Control-Allow-Origin"] = origin
    response["Access-Control-Allow-Credentials"] = "true"
    response["Vary"] = "Origin"
    return response


def _origin_allowed(source: Source | None, origin: str) -> bool:
    """A preflight carries no write key: it passes when any active source allows the origin."""
    sources = [source] if source else Source.objects.filter(active=True).only("allowed_origins")
    return any(origin in s.allowed_origins or "*" in s.allowed_origins for s in sources)


def _preflight(request: HttpRequest) -> HttpResponse:
    origin = request.META.get("HTTP_ORIGIN", "")
    response = HttpResponse(status=204)
    if origin and _origin_allowed(None, origin):
        _cors(response, origin)
        response["Access-Control-Allow-Methods"] = "POST, OPTIONS"
        response["Access-Control-Allow-Headers"] = SDK_REQUEST_HEADERS
        response["Access-Control-Max-Age"] = "86400"
    return response


def _readable(response: HttpResponse, request: HttpRequest) -> HttpResponse:
    """An error answer a browser SDK can read, so it acts on the status (drops a 4xx, retries a
    429/5xx after Retry-After) instead of seeing a CORS failure, which it retries as a network
    error. The answer names nothing but the request's own fault; no credentials are allowed.
    A refused origin (403) reads nothing: its request fails in the browser."""
    origin = request.META.get("HTTP_ORIGIN", "")
    if not origin or response.status_code == HTTPStatus.FORBIDDEN:
        return response
    if "Access-Control-Allow-Origin" not in response:
        response["Access-Control-Allow-Origin"] = origin
        response["Vary"] = "Origin"
    # not a CORS-safelisted header: without this the SDK cannot see how long to wait
    response["Access-Control-Expose-Headers"] = "Retry-After"
    return response


class _Refused(Exception):
    def __init__(self, response: HttpResponse) -> None:
        super().__init__(response.status_code)
        self.response = response


def _handle(request: HttpRequest, kind: str | None) -> HttpResponse:
    if request.method not in ("OPTIONS", "POST"):
        return _error(405, "Use POST.")
    try:
        return _preflight(request) if request.method == "OPTIONS" else _accept(request, kind)
    except _Refused as refused:
        return _readable(refused.response, request)
    except DATABASE_UNAVAILABLE as exc:
        # Nothing was committed: the client keeps the batch and sends it again (messageId
        # makes a resend harmless). Never a 200 without a durable write.
        log.warning("ingestion refused, database unavailable: %s: %s", type(exc).__name__, exc)
        response = _error(
            503,
            "the database is unavailable; nothing was stored, send the same request again later",
            retry_after=RETRY_AFTER_SECONDS,
        )
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return _readable(response, request)


def _accept(request: HttpRequest, kind: str | None) -> HttpResponse:
    received_at = timezone.now()
    body, payload = _payload(request)
    source = source_for_write_key(write_key_from_request(request, payload))
    if source is None:
        response = _error(401, "missing or invalid write key (HTTP Basic user name, or writeKey)")
        response["WWW-Authenticate"] = 'Basic realm="mqlapp"'
        raise _Refused(response)
    origin = request.META.get("HTTP_ORIGIN", "")
    if origin and not _origin_allowed(source, origin):
        raise _Refused(_error(403, f"origin {origin} is not allowed for this source"))
    _rate_check(source, payload, kind=kind, origin=origin)
    if kind is None:
        messages, rejected = _batch(payload, size=len(body), received_at=received_at)
    else:
        messages, rejected = _single(payload, size=len(body), kind=kind, received_at=received_at)
    if messages and inbox_deferred(count=len(messages), source=source):
        inbox_put(messages, source=source, received_at=received_at)
    elif messages:
        browser_key = source.kind == Source.Kind.BROWSER
        outcome = events_ingest(messages, source=source, browser_key=browser_key)
        if outcome.refused and kind is not None:
            raise _Refused(_error(400, outcome.refused[0]["error"]))
        rejected = sorted([*rejected, *outcome.refused], key=lambda r: r["index"])
    answer: dict[str, Any] = {"success": True}
    if rejected:
        answer["rejected"] = rejected
    response = JsonResponse(answer)
    return _cors(response, origin) if origin else response


def _rate_check(source: Source, payload: Any, *, kind: str | None, origin: str) -> None:
    """429 with Retry-After past the write key's limit (a request costs its messages)."""
    cost = 1
    if kind is None and isinstance(payload, dict) and isinstance(payload.get("batch"), list):
        cost = len(payload["batch"])
    verdict = write_key_rate_check(source.pk, cost=cost)
    if verdict.allowed:
        return
    message = (
        f"too many messages for this write key: at most {verdict.limit} in "
        f"{verdict.window} s; retry after {verdict.retry_after} s"
    )
    response = _error(429, message, retry_after=verdict.retry_after)
    response["Retry-After"] = str(verdict.retry_after)
    raise _Refused(_cors(response, origin) if origin else response)


def _payload(request: HttpRequest) -> tuple[bytes, Any]:
    try:
        body = _read_body(request)
    except _TooLarge:
        limit = settings.INGEST_MAX_REQUEST_BYTES
        raise _Refused(
            _error(413, f"request larger than the {limit // 1024} KB limit", limit_bytes=limit)
        ) from None
    except ValueError as exc:
        raise _Refused(_error(400, str(exc))) from exc
    try:
        return body, orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        try:
            return body, _json_lenient(body)
        except (ValueError, RecursionError):
            raise _Refused(_error(400, f"malformed JSON: {exc}")) from exc


def _not_finite(text: str) -> float:
    raise ValueError(f"{text} is not a JSON number")


def _finite(text: str) -> float:
    number = float(text)
    return number if math.isfinite(number) else _not_finite(text)


def _json_lenient(body: bytes) -> Any:
    """What orjson refuses but JSON's grammar allows: an unpaired surrogate escape ("\\ud800",
    which a browser's JSON.stringify writes for a string cut in the middle of an emoji). The
    standard library reads it (the message parser then makes it storable: U+FFFD), so one
    such string never costs the batch; NaN, Infinity and 1e400 stay refused."""
    return json.loads(body, parse_constant=_not_finite, parse_float=_finite)


def _batch(
    payload: Any, *, size: int, received_at: datetime
) -> tuple[list[Message], list[dict[str, Any]]]:
    if not isinstance(payload, dict) or not isinstance(payload.get("batch"), list):
        raise _Refused(_error(400, 'a batch body must be an object with a "batch" list'))
    most = settings.INGEST_MAX_BATCH_MESSAGES
    if len(payload["batch"]) > most:
        message = f"a batch holds at most {most} messages; this one has {len(payload['batch'])}"
        raise _Refused(_error(413, message, limit_messages=most))
    raws = [_sdk_conventions(raw, payload) for raw in payload["batch"]]
    limit = settings.INGEST_MAX_MESSAGE_BYTES
    # No message can be larger than the body it came in: measure each only in a large body.
    for index, raw in enumerate(raws if size > limit else ()):
        if _size(raw) > limit:
            message = f"message {index} is larger than the {limit // 1024} KB limit"
            raise _Refused(_error(413, message, index=index, limit_bytes=limit))
    try:
        batch_sent_at = _parse_time(payload.get("sentAt"), "sentAt")
    except ValueError:
        batch_sent_at = None
    return messages_validate(raws, received_at=received_at, batch_sent_at=batch_sent_at)


def _size(raw: Any) -> int:
    try:
        return len(orjson.dumps(raw))
    except orjson.JSONEncodeError:  # read by _json_lenient: an unpaired surrogate, a huge number
        return len(json.dumps(raw).encode())


def _sdk_conventions(raw: Any, batch: dict[str, Any]) -> Any:
    """One message as the parser expects it, from what the browser SDKs send.

    - The batch's `context` and `integrations` apply to each message: merged shallowly, by
      top-level key, the message's own keys winning (a message's `context.page` replaces the
      batch's whole `context.page`). The batch's `sentAt` is applied by the parser.
    - RudderStack: `rudderId` (older SDKs) is the anonymousId when there is none; `channel`
      ("web") is kept as `context.channel`. Its `originalTimestamp` and `sentAt` are read by
      the parser as they are.
    Anything that is not an object is left for the parser to reject with its reason.
    """
    if not isinstance(raw, dict):
        return raw
    merged = dict(raw)
    for key in ("context", "integrations"):
        shared = batch.get(key)
        if isinstance(shared, dict) and shared:
            own = raw.get(key)
            if own is None:
                merged[key] = dict(shared)
            elif isinstance(own, dict):
                merged[key] = {**shared, **own}
    if not merged.get("anonymousId") and isinstance(raw.get("rudderId"), str):
        merged["anonymousId"] = raw["rudderId"]
    channel = raw.get("channel")
    context = merged.get("context")
    if isinstance(channel, str) and channel and (context is None or isinstance(context, dict)):
        merged["context"] = {"channel": channel, **(context or {})}
    return merged


def _single(
    payload: Any, *, size: int, kind: str, received_at: datetime
) -> tuple[list[Message], list[dict[str, Any]]]:
    limit = settings.INGEST_MAX_MESSAGE_BYTES
    if size > limit:
        message = f"message larger than the {limit // 1024} KB limit"
        raise _Refused(_error(413, message, limit_bytes=limit))
    messages, rejected = messages_validate(
        [_sdk_conventions(payload, {})], received_at=received_at, default_type=kind
    )
    if rejected:
        raise _Refused(_error(400, rejected[0]["error"]))
    return messages, rejected


def _endpoint(kind: str | None):  # type: ignore[no-untyped-def]
    @csrf_exempt
    def view(request: HttpRequest) -> HttpResponse:
        return _handle(request, kind)

    view.__name__ = f"v1_{kind or 'batch'}"
    return view


v1_batch = _endpoint(None)
v1_identify = _endpoint("identify")
v1_track = _endpoint("track")
v1_page = _endpoint("page")
v1_screen = _endpoint("screen")
v1_group = _endpoint("group")
v1_alias = _endpoint("alias")
