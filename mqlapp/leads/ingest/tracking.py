"""Email tracking: signed open/click links, and the Email Opened / Email Link Clicked events."""

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.utils import timezone

from ..errors import InvalidInput
from ..models import Event
from .messages import (
    NAME_MAX,
    email_normalise,
    email_valid,
    message_parse,
    server_message_id,
)
from .services import events_ingest

SALT = "mqlapp.email-tracking"
OPEN, CLICK = "open", "click"
EVENT_NAMES = {OPEN: "Email Opened", CLICK: "Email Link Clicked"}
# Mail clients and proxies fetch a pixel again and again; people double-click links.
BUCKET_SECONDS = {OPEN: 3600, CLICK: 60}


class TokenInvalid(Exception):
    """A token that was not made by this app, or was changed since."""


URL_MAX = 2000  # longer links are not sent by mail services either


def tracking_links_create(*, email: str, campaign: str, url: str | None = None) -> dict[str, Any]:
    """Signed links for one recipient of one campaign; the token carries email, campaign, url."""
    errors: dict[str, list[str]] = {}
    if not isinstance(email, str) or not email_valid(email):
        errors["email"] = ["Enter a valid email address."]
    if not isinstance(campaign, str) or not campaign.strip() or len(campaign) > NAME_MAX:
        errors["campaign"] = ["A campaign name of 1 to 200 characters."]
    if url not in (None, ""):
        parts = urlsplit(str(url))
        if parts.scheme not in ("http", "https") or not parts.netloc or len(str(url)) > URL_MAX:
            errors["url"] = ["An http or https URL of at most 2000 characters."]
    if errors:
        raise InvalidInput("The link cannot be made.", fields=errors)
    payload = {"e": email_normalise(email), "c": campaign.strip(), "u": url or ""}
    token = signing.dumps(payload, salt=SALT, compress=True)
    base = settings.APP_BASE_URL.rstrip("/")
    return {
        "open_url": f"{base}/e/o/{token}.gif",
        "click_url": f"{base}/e/c/{token}" if url else None,
        "token": token,
    }


def token_read(token: str) -> dict[str, str]:
    try:
        payload = signing.loads(token, salt=SALT)
    except signing.BadSignature as exc:
        raise TokenInvalid("this link was not made by mqlapp or has been changed") from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("e"), str):
        raise TokenInvalid("this link carries no recipient")
    return payload


def lead_unsubscribed(email: str) -> bool:
    """SPEC §6: a lead who unsubscribed is not email-tracked any more."""
    return Event.objects.filter(
        lead__email=email, type="track", name__iexact="Unsubscribed"
    ).exists()


@transaction.atomic
def email_event_record(
    token: str, *, kind: str, ip: str | None = None, user_agent: str = ""
) -> bool:
    """Store an open or a click of a valid token; False when nothing was recorded."""
    payload = token_read(token)
    email = payload["e"]
    if lead_unsubscribed(email):
        return False
    now = timezone.now()
    bucket = int(now.timestamp()) // BUCKET_SECONDS[kind]
    properties = {"campaign": payload.get("c", "")}
    if kind == CLICK:
        properties["url"] = payload.get("u", "")
    raw = {
        "type": "track",
        "event": EVENT_NAMES[kind],
        "userId": email,
        "properties": properties,
        "context": {
            "traits": {"email": email},
            "ip": ip,
            "userAgent": user_agent[:300],
            "campaign": {"name": payload.get("c", ""), "medium": "email"},
        },
        # server-made: the recipient holds the token, but cannot compute this id
        "messageId": server_message_id(f"email-{kind}", token, bucket),
    }
    events_ingest([message_parse(raw, index=0, received_at=now, client=False)], source=None)
    return True
