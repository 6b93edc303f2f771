"""Lean validation of Segment messages into plain records (no DRF: ~4 µs a message)."""

import math
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson
from django.utils.crypto import salted_hmac
from django.utils.timezone import is_naive, make_aware

from ..parsing import event_time_error, moment_out_of_range, moment_parse

NAME_MAX = 200  # ids and names: the columns' length
EMAIL_MAX = 254  # RFC 5321's longest path
TYPES = ("identify", "track", "page", "screen", "group", "alias")
CAMPAIGN_KEYS = ("name", "source", "medium", "term", "content")
UTM_KEYS = {f"utm_{k}": k for k in ("source", "medium", "term", "content")} | {
    "utm_campaign": "name"
}
JSON_DEPTH_MAX = 64  # properties, context, traits: deeper is no event data, and the store's
# JSON writer stops at 254 levels
# What PostgreSQL cannot hold in text or jsonb: NUL, and unpaired surrogates (not UTF-8).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_INT_RANGE = (-(2**63), 2**64)  # what orjson writes as an integer
_ID_INT_MAX = 10**NAME_MAX  # an id given as a number must print in NAME_MAX digits


# Message ids the app makes itself (forms, CSV imports, email links) start with this, and
# /v1 refuses it from clients: a client cannot pre-empt (and so suppress) a server-made event.
# The rest is an HMAC under SECRET_KEY of what makes the event one (docs/security.md).
SERVER_ID_PREFIX = "mql-"


class MessageInvalid(ValueError):
    """One message cannot be stored; the text says why."""


def server_message_id(kind: str, *parts: object, order: str = "") -> str:
    """The id of a server-made event: the same parts give the same id (idempotent), and no
    one without SECRET_KEY can compute it. `order`, when given, goes before the digest, so
    such ids sort by it (ties of "latest wins" go to the greater id)."""
    text = "\x1f".join(str(p) for p in parts)
    digest = salted_hmac(f"mqlapp.message-id.{kind}", text, algorithm="sha256").hexdigest()
    return f"{SERVER_ID_PREFIX}{kind}-{order + '-' if order else ''}{digest[:48]}"


def server_made(message_id: str) -> bool:
    return message_id[: len(SERVER_ID_PREFIX)].lower() == SERVER_ID_PREFIX


@dataclass(slots=True)
class Message:
    index: int
    type: str
    message_id: str
    anonymous_id: str
    user_id: str
    name: str
    properties: dict[str, Any]
    context: dict[str, Any]
    traits: dict[str, Any]
    timestamp: datetime
    sent_at: datetime | None
    received_at: datetime
    previous_id: str = ""
    group_id: str = ""
    campaign: dict[str, str] = field(default_factory=dict)
    # False: the message identifies (updates the lead, links ids) but is not kept as an event
    persist: bool = True
    lead_id: int | None = field(default=None)


def _parse_time(value: Any, name: str) -> datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise MessageInvalid(f"{name} must be an ISO 8601 string")
    parsed = moment_parse(value)
    if parsed is None:
        if moment_out_of_range(value):
            raise MessageInvalid(f"{name} {value[:40]!r} falls outside the years 1 to 9999 in UTC")
        raise MessageInvalid(f"{name} is not a valid ISO 8601 time: {value[:40]!r}")
    if is_naive(parsed):
        parsed = make_aware(parsed, UTC)
    return parsed


def _obj(raw: dict[str, Any], key: str) -> dict[str, Any]:
    value = raw.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MessageInvalid(f"{key} must be an object")
    return value


def _id(raw: dict[str, Any], key: str) -> str:
    value = raw.get(key)
    if value is None:
        return ""
    if type(value) is str:  # the common case first: five of these per message
        text = value.strip()
    else:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise MessageInvalid(f"{key} must be a string")
        if isinstance(value, int) and abs(value) >= _ID_INT_MAX:
            raise MessageInvalid(f"{key} is longer than {NAME_MAX} characters")
        text = str(value).strip()
    if len(text) > NAME_MAX:
        raise MessageInvalid(f"{key} is longer than {NAME_MAX} characters")
    # ASCII holds no surrogate: only a NUL can be unstorable there.
    if (not text.isascii() or "\x00" in text) and _UNSTORABLE.search(text):
        # An id must be kept exactly as sent, and PostgreSQL cannot keep these characters.
        raise MessageInvalid(f"{key} contains a NUL character or an unpaired surrogate")
    return text


def text_storable(text: str) -> bool:
    """False when PostgreSQL cannot keep `text` as it is (a NUL, an unpaired surrogate)."""
    return not _UNSTORABLE.search(text)


def storable_text(text: str) -> str:
    """`text` as PostgreSQL keeps it: NUL (refused in text and jsonb) and unpaired surrogates
    (not UTF-8) become U+FFFD, the character a decoder puts where it could not read."""
    return _UNSTORABLE.sub("\ufffd", text)


def storable_json(value: Any, *, where: str) -> Any:
    """`value` as the events table's jsonb keeps it. Most messages pass orjson's own check
    (one C call); the others are walked: text made storable, numbers past 64 bits as floats,
    NaN and infinities as null (what orjson writes for them), keys as text. Raises
    MessageInvalid for nesting deeper than JSON_DEPTH_MAX, a number too large for a float
    and values that are not JSON at all."""
    try:
        blob = orjson.dumps(value)
    except orjson.JSONEncodeError:  # unpaired surrogates, huge integers, odd keys, deep nesting
        return _json_walk(value, where=where, depth=0)
    if b"\\u0000" in blob or blob.count(b"{") + blob.count(b"[") > JSON_DEPTH_MAX:
        return _json_walk(value, where=where, depth=0)
    return value


def _storable_objects(raw: dict[str, Any]) -> tuple[dict[str, Any], ...]:
    """traits, context and properties as `storable_json` keeps them, checked together in one
    orjson call (the common case: nothing to change); only on a doubt each is checked alone."""
    objects = (_obj(raw, "traits"), _obj(raw, "context"), _obj(raw, "properties"))
    try:
        blob = orjson.dumps(objects)
    except orjson.JSONEncodeError:
        blob = b"\\u0000"  # walk each: storable_json finds what orjson refused
    if b"\\u0000" in blob or blob.count(b"{") + blob.count(b"[") > JSON_DEPTH_MAX:
        return tuple(
            storable_json(value, where=where)
            for value, where in zip(objects, ("traits", "context", "properties"), strict=True)
        )
    return objects


def _json_walk(value: Any, *, where: str, depth: int) -> Any:  # noqa: PLR0911 (one per type)
    if depth > JSON_DEPTH_MAX:
        raise MessageInvalid(f"{where} is nested deeper than {JSON_DEPTH_MAX} levels")
    if isinstance(value, str):
        return storable_text(value)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if _INT_RANGE[0] <= value < _INT_RANGE[1]:
            return value
        try:
            return float(value)  # as orjson reads a number past 64 bits
        except OverflowError:
            raise MessageInvalid(f"{where} holds a number too large to store") from None
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {
            storable_text(k if isinstance(k, str) else str(k)): _json_walk(
                v, where=where, depth=depth + 1
            )
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_json_walk(v, where=where, depth=depth + 1) for v in value]
    raise MessageInvalid(f"{where} holds a value that is not JSON ({type(value).__name__})")


def _shown(value: Any) -> str:
    """A short, safe rendering of a value for an error message."""
    if isinstance(value, str):
        return repr(value[:40])
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**40:
        return "a very large number"
    if value is None or isinstance(value, int | float):
        return repr(value)
    return "an object" if isinstance(value, dict) else f"a {type(value).__name__}"


def message_parse(
    raw: Any,
    *,
    index: int,
    received_at: datetime,
    default_type: str | None = None,
    batch_sent_at: datetime | None = None,
    client: bool = True,
) -> Message:
    """Validate one raw message and correct its clock skew the way Segment does.

    `client=False` only for messages the app makes itself (server-made ids allowed)."""
    if not isinstance(raw, dict):
        raise MessageInvalid("message must be a JSON object")
    kind = default_type or raw.get("type")
    if not isinstance(kind, str) or kind.lower() not in TYPES:
        raise MessageInvalid(f"unknown type {_shown(kind)}; expected one of {', '.join(TYPES)}")
    kind = kind.lower()
    anonymous_id, user_id = _id(raw, "anonymousId"), _id(raw, "userId")
    previous_id = _id(raw, "previousId")
    if kind == "alias":
        if not previous_id or not user_id:
            raise MessageInvalid("alias needs previousId and userId")
    elif not anonymous_id and not user_id:
        raise MessageInvalid("message needs a userId or an anonymousId")
    group_id = _id(raw, "groupId")
    if kind == "group" and not group_id:
        raise MessageInvalid("group needs a groupId")
    message_id = _id(raw, "messageId") or str(uuid.uuid4())
    if client and server_made(message_id):
        raise MessageInvalid(
            f"messageId may not start with {SERVER_ID_PREFIX!r}: ids with that prefix are "
            "made by mqlapp itself"
        )
    sent_at = _parse_time(raw.get("sentAt"), "sentAt") or batch_sent_at
    timestamp = _when(raw, received_at=received_at, sent_at=sent_at)
    name = _name(raw, kind)
    traits, context, properties = _storable_objects(raw)
    if kind == "identify" and isinstance(context.get("traits"), dict):
        # RudderStack's SDKs send identify traits in context.traits only.
        traits = {**context["traits"], **traits}
    if kind == "identify" and traits.get("email") not in (None, ""):
        # No placeholder leads: an identify must name a real address or none at all.
        email = traits["email"]
        if not isinstance(email, str) or not email_valid(email):
            text = email if isinstance(email, str) else _shown(email)
            raise MessageInvalid(f"traits.email is not a valid email address: {text[:80]!r}")
    return Message(
        index=index,
        type=kind,
        message_id=message_id,
        anonymous_id=anonymous_id,
        user_id=user_id,
        name=name,
        properties=properties,
        context=context,
        traits=traits,
        timestamp=timestamp,
        sent_at=sent_at,
        received_at=received_at,
        previous_id=previous_id,
        group_id=group_id,
        campaign=campaign_of(context, properties),
    )


def _name(raw: dict[str, Any], kind: str) -> str:
    """A track's event name (required), a page or screen view's name, else empty."""
    if kind == "track":
        event = raw.get("event")
        if not isinstance(event, str) or not event.strip():
            raise MessageInvalid("track needs an event name")
        return storable_text(event.strip()[:NAME_MAX])
    if kind in ("page", "screen"):
        page_name = raw.get("name")
        return storable_text(page_name.strip()[:NAME_MAX]) if isinstance(page_name, str) else ""
    return ""


def _when(raw: dict[str, Any], *, received_at: datetime, sent_at: datetime | None) -> datetime:
    """When it happened, with the client's clock skew corrected as Segment does:
    timestamp + (receivedAt - sentAt); no timestamp means now. A result before 1970 or past
    the horizon (parsing.event_time_error) is refused, never clamped (docs/ingestion.md)."""
    key = "timestamp" if raw.get("timestamp") not in (None, "") else "originalTimestamp"
    timestamp = _parse_time(raw.get(key), key)
    if timestamp is None:
        return received_at
    when: datetime | None = timestamp
    if sent_at is not None:
        try:
            when = timestamp + (received_at - sent_at)
        except OverflowError:
            when = None
    problem = "falls outside the years 1 to 9999"
    if when is not None:
        problem = event_time_error(when, now=received_at) or ""
    if when is None or problem:
        corrected = f" corrected by sentAt {sent_at.isoformat()}" if sent_at else ""
        raise MessageInvalid(f"{key} {_shown(raw.get(key))}{corrected} {problem}")
    return when


def campaign_of(context: dict[str, Any], properties: dict[str, Any]) -> dict[str, str]:
    """UTM parameters: `context.campaign` as analytics.js sends it, else the page URL's query."""
    found: dict[str, str] = {}
    raw = context.get("campaign")
    if isinstance(raw, dict):
        for key, value in raw.items():
            name = UTM_KEYS.get(key, key)
            if name in CAMPAIGN_KEYS and isinstance(value, str | int | float) and str(value):
                found[name] = str(value)[:200]
        if found:
            return found
    page = context.get("page") if isinstance(context.get("page"), dict) else {}
    for where in (properties, page):
        for key in ("url", "search"):
            value = where.get(key)  # type: ignore[union-attr]
            if isinstance(value, str) and "utm_" in value:
                for name, item in parse_qsl(urlsplit(value).query):
                    if name in UTM_KEYS and item:
                        found.setdefault(UTM_KEYS[name], item[:200])
                if found:
                    return found
    return found


def context_email(message: Message) -> str:
    """`context.traits.email`, normalised, when it is a valid address (it names the lead)."""
    traits = message.context.get("traits")
    if isinstance(traits, dict):
        value = traits.get("email")
        if isinstance(value, str) and email_valid(value):
            return email_normalise(value)
    return ""


def email_valid(value: str) -> bool:
    value = value.strip()
    if len(email_normalise(value)) > EMAIL_MAX or value.count("@") != 1:
        return False  # measured lower-cased, as stored: "İ" lower-cases to two characters
    if not value.isprintable() or "\ufffd" in value:
        return False  # control characters, NUL, unpaired surrogates, unreadable bytes
    local, domain = value.split("@")
    return bool(local) and "." in domain and not any(c.isspace() for c in value)


def email_normalise(value: str) -> str:
    return value.strip().lower()
