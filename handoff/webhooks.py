"""Webhooks: endpoints, the delivery outbox, Standard Webhooks signing, retries, SSRF guard."""

import base64
import contextlib
import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import secrets
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from mqlapp.leads.errors import InvalidInput, InvalidTransition, NotFound
from mqlapp.leads.services import task_kick

from .lifecycle import WEBHOOK_EVENTS
from .models import LeadView, Webhook, WebhookAttempt, WebhookDelivery
from .serializers import LeadSerializer

log = logging.getLogger(__name__)

# Seconds to wait before each retry (Svix's schedule): the first retry comes within 30 s.
RETRY_DELAYS = (5, 300, 1800, 7200, 18000, 36000, 36000)
SEND_TIMEOUT = 10.0  # per socket operation; the whole try has settings.WEBHOOK_TRY_DEADLINE
LEASE = timedelta(seconds=60)  # a try in progress; a worker that dies frees it after this
LEASE_MARGIN = 15.0  # a try's deadline ends at least this long before its lease
RESPONSE_KEEP = 2000
URL_MAX = 2000  # the column's length (Webhook.url)


class Refused(Exception):
    """The URL may not be called (scheme, private address, unresolvable host)."""


def try_deadline() -> float:
    """Seconds one try may take in all, always well within its lease."""
    return max(1.0, min(float(settings.WEBHOOK_TRY_DEADLINE), LEASE.total_seconds() - LEASE_MARGIN))


# --- signing ---------------------------------------------------------------------------------


def secret_new() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def signature(secret: str, *, msg_id: str, timestamp: int, body: str) -> str:
    """`v1,<base64 HMAC-SHA256 of "id.timestamp.body">` with the decoded secret as key."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{msg_id}.{timestamp}.{body}".encode()
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


# --- the SSRF guard --------------------------------------------------------------------------


def address_forbidden(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return bool(
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
        or not ip.is_global
    )


def _demo_loopback(address: str) -> bool:
    """A receiver on this machine, allowed under `make run` only (settings.DEMO)."""
    if not getattr(settings, "WEBHOOK_ALLOW_LOOPBACK", False):
        return False
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


_PRINTABLE = "".join(chr(c) for c in range(0x21, 0x7F))  # ASCII without space and controls


def url_resolve(url: str) -> tuple[str, str, int, str, list[str]]:
    """(scheme, host, port, path, addresses) of a URL we may call; Refused otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Refused("the URL must be http:// or https:// with a host")
    if parts.username or parts.password:
        raise Refused("the URL must not carry a user name or password")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise Refused("the URL has an invalid port") from exc
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Refused(f"the host {parts.hostname} does not resolve") from exc
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not settings.WEBHOOK_ALLOW_PRIVATE_HOSTS:
        bad = [a for a in addresses if address_forbidden(a) and not _demo_loopback(a)]
        if bad:
            raise Refused(
                f"the host {parts.hostname} resolves to a private, loopback, link-local or "
                f"reserved address ({bad[0]}); set WEBHOOK_ALLOW_PRIVATE_HOSTS=true to allow it"
            )
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    # A request line is ASCII: other characters (a path in Japanese) are percent-encoded.
    return parts.scheme, parts.hostname, port, quote(path, safe=_PRINTABLE), addresses


# --- endpoints (admin) -----------------------------------------------------------------------


def _events(value: Any) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(e, str) for e in value):
        raise InvalidInput(
            f"events must be a non-empty list of: {', '.join(WEBHOOK_EVENTS)}",
            fields={"events": ["invalid"]},
        )
    unknown = [e for e in value if e not in WEBHOOK_EVENTS]
    if unknown:
        raise InvalidInput(
            f"unknown event {unknown[0]!r}; use: {', '.join(WEBHOOK_EVENTS)}",
            fields={"events": [f"unknown: {', '.join(unknown)}"]},
        )
    return list(dict.fromkeys(value))


def _url(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > URL_MAX:
        raise InvalidInput("url is required (http:// or https://)", fields={"url": ["required"]})
    try:
        url_resolve(value.strip())
    except Refused as exc:
        raise InvalidInput(f"url refused: {exc}", fields={"url": [str(exc)]}) from exc
    return value.strip()


def _apply(webhook: Webhook, data: Mapping[str, Any]) -> None:
    if "url" in data:
        webhook.url = _url(data["url"])
    if "events" in data:
        webhook.events = _events(data["events"])
    if "active" in data:
        if not isinstance(data["active"], bool):
            raise InvalidInput("active must be true or false", fields={"active": ["bool"]})
        if data["active"] and not webhook.active:  # an admin turns it back on
            webhook.disabled_reason = ""
            webhook.disabled_at = None
        webhook.active = data["active"]
    if "description" in data:
        webhook.description = str(data["description"] or "")[:200]


@transaction.atomic
def webhook_create(*, data: Mapping[str, Any]) -> Webhook:
    if "url" not in data:
        raise InvalidInput("url is required (http:// or https://)", fields={"url": ["required"]})
    webhook = Webhook(secret=secret_new(), events=list(WEBHOOK_EVENTS))
    _apply(webhook, data)
    webhook.save()
    return webhook


@transaction.atomic
def webhook_update(webhook: Webhook, *, data: Mapping[str, Any]) -> Webhook:
    _apply(webhook, data)
    if data.get("rotate_secret") is True:
        webhook.secret = secret_new()
        webhook.secret_rotated_at = timezone.now()
    webhook.save()
    return webhook


@transaction.atomic
def webhook_rotate(webhook: Webhook) -> Webhook:
    """A new signing secret, used from the next try on; the old one signs nothing more. The
    caller shows the new one once: no later answer or page carries it."""
    webhook.secret = secret_new()
    webhook.secret_rotated_at = timezone.now()
    webhook.save(update_fields=["secret", "secret_rotated_at", "updated_at"])
    return webhook


def webhook_delete(webhook: Webhook) -> None:
    webhook.delete()


# --- the outbox ------------------------------------------------------------------------------


def lead_payloads(
    leads: Sequence[LeadView],
    *,
    event_type: str,
    now: datetime,
    extras: Mapping[int, Mapping[str, Any]],
) -> list[str]:
    """The bodies, fixed when the event happens and sent unchanged on every try. One
    serializer for all the leads: DRF builds a serializer's fields each time it is made."""
    rows = LeadSerializer(leads, many=True).data
    bodies = []
    for lead, row in zip(leads, rows, strict=True):
        data = dict(row)
        owner = lead.owner
        data["owner"] = (
            {"id": owner.pk, "username": owner.username, "email": owner.email} if owner else None
        )
        data.update(extras[lead.pk])
        body = {"type": event_type, "timestamp": now.isoformat(), "data": data}
        bodies.append(
            json.dumps(body, cls=DjangoJSONEncoder, ensure_ascii=False, separators=(",", ":"))
        )
    return bodies


def webhooks_enqueue(
    lead_id: int, *, event_type: str, now: datetime, extra: Mapping[str, Any]
) -> list[int]:
    """Outbox rows for every active webhook on `event_type`, in the caller's transaction."""
    return webhooks_enqueue_many({lead_id: extra}, event_type=event_type, now=now)


def webhooks_enqueue_many(
    extras: Mapping[int, Mapping[str, Any]], *, event_type: str, now: datetime
) -> list[int]:
    """`webhooks_enqueue` for many leads at once (`extras`: each lead's own part of its body),
    in the order given: three queries however many leads."""
    hooks = [h for h in Webhook.objects.filter(active=True) if event_type in h.events]
    if not hooks or not extras:
        return []
    found = LeadView.objects.in_bulk(list(extras))
    leads = [found[lead_id] for lead_id in extras]
    payloads = lead_payloads(leads, event_type=event_type, now=now, extras=extras)
    rows = []
    for payload in payloads:
        rows += [
            WebhookDelivery(
                webhook=hook,
                event_type=event_type,
                msg_id=f"msg_{uuid.uuid4().hex}",
                payload=payload,
                next_attempt_at=now,
                created_at=now,
            )
            for hook in hooks
        ]
    ids = [row.pk for row in WebhookDelivery.objects.bulk_create(rows)]
    transaction.on_commit(lambda: _kick_all(ids))
    return ids


def _kick_all(ids: list[int]) -> None:
    for pk in ids:
        task_kick("handoff.tasks.webhook_deliver", pk)


def deliveries_due(*, now: datetime, limit: int = 500) -> list[int]:
    """Pending deliveries whose try is due, to active webhooks only (a disabled webhook's
    deliveries wait, and go if an admin turns it back on)."""
    return list(
        WebhookDelivery.objects.filter(
            status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now, webhook__active=True
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )


def _post(url: str, *, body: bytes, headers: Mapping[str, str], deadline: float) -> tuple[int, str]:
    """POST to the URL at an address the guard checked (no re-resolve, no redirects), all of
    it (connect, send, status, headers, body) over by `deadline` (a `time.monotonic()`): a
    socket timeout alone bounds each read, and a receiver that drips a byte a second never
    trips it. At the deadline a timer shuts the socket down under the blocked read."""
    scheme, host, port, path, addresses = url_resolve(url)
    address = addresses[0]
    timeout = max(0.1, min(SEND_TIMEOUT, deadline - time.monotonic()))
    conn: _PinnedHTTP | _PinnedHTTPS
    if scheme == "https":
        conn = _PinnedHTTPS(host, port, address=address, timeout=timeout)
    else:
        conn = _PinnedHTTP(host, port, address=address, timeout=timeout)
    timer = threading.Timer(max(0.0, deadline - time.monotonic()), conn.cut)
    timer.daemon = True
    timer.start()
    try:
        conn.request("POST", path, body=body, headers=dict(headers))
        response = conn.getresponse()
        text = response.read(RESPONSE_KEEP).decode("utf-8", "replace")
    except (OSError, http.client.HTTPException) as exc:
        if conn.expired.is_set():
            raise _overdue() from exc
        raise
    finally:
        timer.cancel()
        conn.close()
    if conn.expired.is_set():
        raise _overdue()
    return response.status, text


def _overdue() -> TimeoutError:
    return TimeoutError(f"no complete answer within the {try_deadline():g} s deadline of a try")


class _Cuttable:
    """A connection that another thread can cut at its deadline: `cut` marks it expired and
    shuts its socket down (a blocked read then returns); `connect` checks the mark once the
    socket is in place, so a cut that comes before the socket is not lost."""

    sock: socket.socket | None
    expired: threading.Event

    def cut(self) -> None:
        self.expired.set()
        sock = self.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                # the plain socket's shutdown, also under TLS: no TLS close from this thread
                socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def _placed(self, sock: socket.socket) -> None:
        self.sock = sock
        if self.expired.is_set():
            raise _overdue()


class _PinnedHTTP(_Cuttable, http.client.HTTPConnection):
    def __init__(self, host: str, port: int, *, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address
        self.expired = threading.Event()

    def connect(self) -> None:
        self._placed(socket.create_connection((self._address, self.port), self.timeout))


class _PinnedHTTPS(_Cuttable, http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, *, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address
        self.expired = threading.Event()

    def connect(self) -> None:
        self._placed(socket.create_connection((self._address, self.port), self.timeout))
        # the handshake after the TLS socket is in place, so a cut reaches it too
        tls = self._context.wrap_socket(  # type: ignore[attr-defined]
            self.sock, server_hostname=self.host, do_handshake_on_connect=False
        )
        self._placed(tls)
        tls.do_handshake()


def webhook_deliver(delivery_id: int, *, now: datetime | None = None) -> float | None:
    """One try of a due delivery; returns seconds until the next try, or None (done/not due)."""
    now = now or timezone.now()
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("webhook")
            .filter(
                pk=delivery_id,
                status=WebhookDelivery.Status.PENDING,
                next_attempt_at__lte=now,
                webhook__active=True,
            )
            .first()
        )
        if delivery is None:
            return None
        delivery.attempts += 1
        delivery.next_attempt_at = now + LEASE
        delivery.save(update_fields=["attempts", "next_attempt_at"])
    number, webhook = delivery.attempts, delivery.webhook
    stamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "mqlapp-webhooks/1",
        "webhook-id": delivery.msg_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": signature(
            webhook.secret, msg_id=delivery.msg_id, timestamp=stamp, body=delivery.payload
        ),
    }
    started = time.monotonic()
    status_code: int | None = None
    error = text = ""
    try:
        status_code, text = _post(
            webhook.url,
            body=delivery.payload.encode(),
            headers=headers,
            deadline=started + try_deadline(),
        )
        if status_code == GONE:
            error = "HTTP 410 Gone: the endpoint asked for no more deliveries; webhook disabled"
        elif status_code // 100 != 2:  # noqa: PLR2004 (HTTP status classes)
            redirect = status_code // 100 == 3  # noqa: PLR2004
            error = f"HTTP {status_code}" + (" (redirects are not followed)" if redirect else "")
    except Refused as exc:
        error = f"refused: {exc}"
    except (OSError, http.client.HTTPException) as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
    except Exception as exc:  # anything else is a failed try too: bounded and logged
        error = f"{type(exc).__name__}: {exc}"[:500]
        log.exception("webhook %s try %s raised", delivery.msg_id, number)
    elapsed = int((time.monotonic() - started) * 1000)
    # No retry after a 410, nor after a try an admin asked for (they see how it went).
    retry = error and status_code != GONE and not delivery.resends
    delay = RETRY_DELAYS[number - 1] if retry and number <= len(RETRY_DELAYS) else None
    with transaction.atomic():
        if status_code == GONE:
            _disable(webhook, delivery=delivery, now=now)
        WebhookAttempt.objects.create(
            delivery=delivery,
            number=number,
            at=now,
            webhook_timestamp=stamp,
            status_code=status_code,
            error=error,
            response_body=text,
            duration_ms=elapsed,
        )
        delivery.last_status_code = status_code
        delivery.last_error = error
        if not error:
            delivery.status = WebhookDelivery.Status.DELIVERED
            delivery.delivered_at = now
            delivery.next_attempt_at = None
        elif delay is None:
            delivery.status = WebhookDelivery.Status.FAILED
            delivery.next_attempt_at = None
        else:
            delivery.next_attempt_at = now + timedelta(seconds=delay)
        delivery.save(
            update_fields=[
                "last_status_code",
                "last_error",
                "status",
                "delivered_at",
                "next_attempt_at",
            ]
        )
    if error:
        log.info("webhook %s try %s failed: %s", delivery.msg_id, number, error)
    return float(delay) if delay is not None else None


GONE = 410


def _disable(webhook: Webhook, *, delivery: WebhookDelivery, now: datetime) -> None:
    """The receiver answered 410 Gone: Standard Webhooks says to stop sending to it."""
    reason = (
        f"Disabled: the endpoint answered 410 Gone at {now.isoformat(timespec='seconds')} "
        f"(delivery {delivery.msg_id}). Turn it back on once the receiver is fixed."
    )
    Webhook.objects.filter(pk=webhook.pk, active=True).update(
        active=False, disabled_reason=reason[:300], disabled_at=now, updated_at=now
    )
    log.warning("webhook %s disabled: %s answered 410 Gone", webhook.pk, webhook.url)


TEST_EVENT = "webhook.test"


@transaction.atomic
def webhook_send_test(webhook: Webhook, *, now: datetime | None = None) -> WebhookDelivery:
    """An admin checks an endpoint: a `webhook.test` message, signed like every other, sent
    now through the outbox (its tries and the receiver's answer land in the delivery log).
    409 when the webhook is disabled."""
    now = now or timezone.now()
    if not webhook.active:
        raise InvalidTransition(
            "The webhook is disabled: turn it back on before sending a test. "
            + webhook.disabled_reason
        )
    body = {
        "type": TEST_EVENT,
        "timestamp": now.isoformat(),
        "data": {"webhook": webhook.pk, "message": "A test delivery sent from mqlapp."},
    }
    delivery = WebhookDelivery.objects.create(
        webhook=webhook,
        event_type=TEST_EVENT,
        msg_id=f"msg_{uuid.uuid4().hex}",
        payload=json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        next_attempt_at=now,
        created_at=now,
    )
    transaction.on_commit(lambda: task_kick("handoff.tasks.webhook_deliver", delivery.pk))
    return delivery


@transaction.atomic
def webhook_delivery_resend(
    webhook: Webhook, delivery_id: int, *, now: datetime | None = None
) -> WebhookDelivery:
    """An admin sends a failed delivery again, under the same webhook-id: one try now; if it
    fails, it is failed again with the new error (no schedule of retries of its own)."""
    now = now or timezone.now()
    delivery = (
        WebhookDelivery.objects.select_for_update(of=("self",))
        .filter(pk=delivery_id, webhook=webhook)
        .first()
    )
    if delivery is None:
        raise NotFound(f"webhook {webhook.pk} has no delivery {delivery_id}")
    if delivery.status != WebhookDelivery.Status.FAILED:
        raise InvalidTransition(
            f"Only a failed delivery can be sent again; this one is {delivery.status}.",
            status=delivery.status,
        )
    if not webhook.active:
        raise InvalidTransition(
            "The webhook is disabled: turn it back on before sending a delivery again. "
            + webhook.disabled_reason
        )
    delivery.status = WebhookDelivery.Status.PENDING
    delivery.resends += 1
    delivery.next_attempt_at = now
    delivery.save(update_fields=["status", "resends", "next_attempt_at"])
    transaction.on_commit(lambda: task_kick("handoff.tasks.webhook_deliver", delivery.pk))
    return delivery
