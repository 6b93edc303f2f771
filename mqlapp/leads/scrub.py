"""What an erasure leaves of an event's JSON (SPEC §6: the events' personal fields go, anonymous
counts stay): pure functions over `properties`, `context` and `campaign`, no database.

Three rules, applied at any depth:

- **keys**: a key that names personal data (email, name, phone, address, ip, …) goes with its
  value; in `context` only keys that describe the page, campaign or library stay;
- **URLs**: a URL keeps its scheme, host and path — its query string (`?email=…`, click ids,
  UTM content) and fragment go, and so does a `search` / `query` / `hash` key; a referrer keeps
  only its origin (the site someone came from, not the page there);
- **values**: a string that holds an email address, or any of the person's own values (email,
  names, company, phone, external id, anonymous ids: `PersonalValues`), goes, whatever its
  key — free text such as "called 山田 on 03-…" included.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus, urlsplit, urlunsplit

# `properties` keys (compared lower-cased without "_", "-", " ") removed at any depth; any key
# containing "email", "phone" or "name" goes too (except the keys in PROPERTY_KEEP).
PROPERTY_PERSONAL = {
    "email",
    "name",
    "firstname",
    "lastname",
    "fullname",
    "username",
    "phone",
    "mobile",
    "tel",
    "company",
    "companyname",
    "department",
    "jobtitle",
    "address",
    "street",
    "postalcode",
    "zip",
    "birthday",
    "ip",
    "useragent",
    "userid",
    "anonymousid",
    "externalids",
    "advertisingid",
    "deviceid",
    "メールアドレス",
    "氏名",
    "名前",
    "姓",
    "名",
    "電話番号",
    "会社名",
    "部署",
    "役職",
    "住所",
}
PROPERTY_PERSONAL_PARTS = ("email", "phone", "name")
PROPERTY_KEEP = {"eventname", "formname", "campaignname", "pagename", "hostname", "pathname"}
# Keys whose value is a query string or fragment on its own: removed.
QUERY_KEYS = {"search", "query", "querystring", "hash", "fragment", "keywords"}
# Keys whose value is where the visitor came from: only the origin stays.
REFERRER_KEYS = {"referrer", "referer", "initialreferrer", "referringurl", "referrerurl"}
# `context` keeps only these (page, campaign, the SDK): the rest (traits, ip, userAgent,
# device, location, os, screen, network, externalIds, referrer ids, …) names or reaches the
# person or their device.
CONTEXT_KEEP = ("page", "campaign", "library", "locale", "timezone", "channel")
# A campaign keeps the marketer's labels; `term`, `content` and ids are per link or per person.
CAMPAIGN_KEEP = ("name", "source", "medium")

_EMAIL = re.compile(r"[^\s@/?&=#:]+@[^\s@/?&=#:]+\.[a-z]{2,}", re.IGNORECASE)
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
# A personal value shorter than this matches too much to mean anything (two letters of a
# Japanese name say more than two Latin ones).
_SHORTEST = {True: 3, False: 2}
_DROP = object()


@dataclass(frozen=True)
class PersonalValues:
    """The person's own values, lower-cased: a string holding one of them is theirs."""

    values: tuple[str, ...]

    @classmethod
    def of(cls, values: Iterable[Any]) -> "PersonalValues":
        found = {str(v).strip().lower() for v in values if v is not None and str(v).strip()}
        return cls(tuple(sorted(v for v in found if len(v) >= _SHORTEST[v.isascii()])))

    def named_in(self, text: str) -> bool:
        lowered = text.lower()
        decoded = unquote_plus(lowered)
        if _EMAIL.search(lowered) or _EMAIL.search(decoded):
            return True
        return any(v in lowered or v in decoded for v in self.values)


def _norm(key: str) -> str:
    return key.lower().replace("_", "").replace("-", "").replace(" ", "")


def key_personal(key: str) -> bool:
    k = _norm(key)
    if k in PROPERTY_KEEP:
        return False
    return k in PROPERTY_PERSONAL or k in QUERY_KEYS or any(p in k for p in PROPERTY_PERSONAL_PARTS)


def url_scrub(text: str, *, origin_only: bool = False) -> str:
    """A URL without its user info, query string and fragment (only its origin when asked);
    a path-like text without what follows "?" or "#"."""
    if not _URL.match(text):
        return re.split(r"[?#]", text, maxsplit=1)[0] if not origin_only else ""
    try:
        parts = urlsplit(text)
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
    except ValueError:
        return ""
    path = "" if origin_only else parts.path
    return urlunsplit((parts.scheme, netloc, path, "", ""))


def _value(key: str | None, value: Any, person: PersonalValues) -> Any:
    if isinstance(value, dict):
        return _mapping(value, person)
    if isinstance(value, list):
        items = [_value(None, item, person) for item in value]
        return [item for item in items if item is not _DROP]
    if isinstance(value, str):
        if key is not None and _norm(key) in REFERRER_KEYS:
            value = url_scrub(value, origin_only=True)
        elif _URL.match(value) or (key is not None and _norm(key) in {"path", "url", "href"}):
            value = url_scrub(value)
        return _DROP if person.named_in(value) else value
    return value


def _mapping(value: dict[str, Any], person: PersonalValues) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, item in value.items():
        if isinstance(key, str) and key_personal(key):
            continue
        kept = _value(key if isinstance(key, str) else None, item, person)
        if kept is not _DROP:
            out[key] = kept
    return out


def properties_scrub(value: Any, person: PersonalValues) -> Any:
    """An event's `properties` as an erasure leaves them."""
    kept = _value(None, value, person)
    return {} if kept is _DROP else kept


def context_scrub(value: Any, person: PersonalValues) -> dict[str, Any]:
    """An event's `context` as an erasure leaves it: the kept keys, each scrubbed."""
    if not isinstance(value, dict):
        return {}
    out: dict[str, Any] = {}
    for key in CONTEXT_KEEP:
        if key not in value:
            continue
        item = value[key]
        if key == "campaign":
            out[key] = campaign_scrub(item, person)
        elif key == "library":  # the SDK's name and version
            out[key] = (
                {k: v for k, v in item.items() if k in ("name", "version") and isinstance(v, str)}
                if isinstance(item, dict)
                else {}
            )
        else:
            kept = _value(key, item, person)
            if kept is not _DROP:
                out[key] = kept
    return out


def campaign_scrub(value: Any, person: PersonalValues) -> dict[str, Any]:
    """An event's campaign (UTM) as an erasure leaves it: name, source and medium, unless
    they name the person."""
    if not isinstance(value, dict):
        return {}
    labels = {k: value[k] for k in CAMPAIGN_KEEP if isinstance(value.get(k), str)}
    return {k: v for k, v in labels.items() if not person.named_in(v)}


def keys_count(value: Any) -> int:
    """How many keys a JSON value holds at any depth (to count what an erasure removed)."""
    if isinstance(value, dict):
        return len(value) + sum(keys_count(v) for v in value.values())
    if isinstance(value, list):
        return sum(keys_count(v) for v in value)
    return 0
