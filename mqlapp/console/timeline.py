"""What a person reads of a stored event on the lead page and the visitors page: the page
(URL and title), the document, the campaign, the e-mail (subject and link), and whether it
happened before the person was identified. Values are returned as plain strings: the
templates escape them (a hostile title shows as text)."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from django.utils.translation import pgettext_lazy

from mqlapp.leads.models import Event

TYPE_LABELS = {
    "page": pgettext_lazy("timeline", "Page view"),
    "screen": pgettext_lazy("timeline", "Screen view"),
    "identify": pgettext_lazy("timeline", "Identified"),
    "group": pgettext_lazy("timeline", "Company (group) details"),
    "alias": pgettext_lazy("timeline", "Identity linked (alias)"),
    "track": pgettext_lazy("timeline", "Action"),
}

_DOCUMENT_KEYS = ("document", "document_name", "documentName", "file_name", "fileName", "asset")
_SUBJECT_KEYS = ("subject", "email_subject", "emailSubject")
_LINK_KEYS = ("link_url", "linkUrl", "link", "href")


@dataclass(frozen=True)
class TimelineItem:
    event: Event
    title: str  # the track event's name, or what kind of event it is, in words
    url: str
    url_is_link: bool  # http(s) only: anything else is shown as text, never a link
    path: str  # the URL's path (or the page's `path` property), for compact lists
    page_title: str
    document: str
    campaign: str
    subject: str
    link: str
    what: str  # a track event's own `name` property (the seminar, the trade show)
    anonymous: bool  # before identification


def _text(value: Any) -> str:
    if value is None or isinstance(value, Mapping | list):
        return ""
    return str(value)[:500]


def _first(props: Mapping[str, Any], keys: Iterable[str]) -> str:
    for key in keys:
        text = _text(props.get(key))
        if text:
            return text
    return ""


def _campaign(event: Event) -> str:
    campaign = event.campaign if isinstance(event.campaign, Mapping) else {}
    props = event.properties if isinstance(event.properties, Mapping) else {}
    name = _text(campaign.get("name")) or _text(props.get("campaign"))
    extra = [_text(campaign.get(k)) for k in ("source", "medium")]
    extra = [x for x in extra if x]
    if name and extra:
        return f"{name} ({' / '.join(extra)})"
    return name or " / ".join(extra)


def timeline_item(event: Event, *, identified_at: datetime | None) -> TimelineItem:
    props = event.properties if isinstance(event.properties, Mapping) else {}
    context = event.context if isinstance(event.context, Mapping) else {}
    raw_page = context.get("page")
    page: Mapping[str, Any] = raw_page if isinstance(raw_page, Mapping) else {}
    is_page = event.type in ("page", "screen")
    url = _text(props.get("url")) or _text(page.get("url"))
    page_title = ""
    document = _first(props, _DOCUMENT_KEYS)
    if is_page:
        page_title = _text(props.get("title")) or _text(page.get("title"))
    elif not document and any(w in event.name.lower() for w in ("document", "download")):
        document = _text(props.get("title")) or _text(props.get("name"))
    link = _first(props, _LINK_KEYS)
    if not is_page and not link and "email" in event.name.lower():
        link, url = url, ""
    title = event.name or str(TYPE_LABELS.get(event.type, event.type))
    return TimelineItem(
        event=event,
        title=title,
        url=url,
        url_is_link=urlsplit(url).scheme in ("http", "https") if url else False,
        path=_text(props.get("path")) or (urlsplit(url).path if url else ""),
        page_title=page_title,
        document=document,
        campaign=_campaign(event),
        subject=_first(props, _SUBJECT_KEYS),
        link=link,
        what="" if is_page or document else _text(props.get("name")),
        anonymous=identified_at is not None and event.timestamp < identified_at,
    )


def timeline(events: Iterable[Event], *, identified_at: datetime | None) -> list[TimelineItem]:
    return [timeline_item(event, identified_at=identified_at) for event in events]
