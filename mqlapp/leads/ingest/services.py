"""Store a request's messages in one transaction: identity first, then events, then the outbox."""

import logging
import operator
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import orjson
from django.db import OperationalError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from .. import hooks
from ..event_store import (
    FIELDS,
    EventOwnerGone,
    events_insert,
    message_keys_claim,
    message_keys_release,
)
from ..models import PROFILE_FIELDS, Lead, Source
from ..orphans import ACTIVITY_TYPES
from ..services import lead_apply
from .identity import LeadChange, Resolver, identities_write, resolver_orphans_adopt
from .messages import Message, MessageInvalid, message_parse

log = logging.getLogger(__name__)
CHANGE_FIELDS = (*PROFILE_FIELDS, "traits", "external_id", "field_stamps")


@dataclass
class IngestOutcome:
    """What one call stored: messages given, leads created (by email), leads queued."""

    messages: int = 0
    created_emails: set[str] = field(default_factory=set)
    lead_ids: set[int] = field(default_factory=set)
    # messages a browser key may not send (not stored): [{"index", "error"}]
    refused: list[dict[str, Any]] = field(default_factory=list)


def messages_validate(
    raws: Sequence[Any],
    *,
    received_at: datetime,
    default_type: str | None = None,
    batch_sent_at: datetime | None = None,
) -> tuple[list[Message], list[dict[str, Any]]]:
    messages: list[Message] = []
    rejected: list[dict[str, Any]] = []
    for index, raw in enumerate(raws):
        try:
            messages.append(
                message_parse(
                    raw,
                    index=index,
                    received_at=received_at,
                    default_type=default_type,
                    batch_sent_at=batch_sent_at,
                )
            )
        except MessageInvalid as exc:
            rejected.append({"index": index, "error": str(exc)})
    return messages, rejected


# A request's transaction that PostgreSQL ends to break a deadlock with another request about
# the same lead (SQLSTATE 40P01; 40001 a serialization failure) is tried again from the start:
# it rolled back whole, so nothing of it was stored. So is one whose lead was merged away or
# erased while it resolved (EventOwnerGone): resolving again finds where the lead went.
RETRIED_SQLSTATES = ("40P01", "40001")
ATTEMPTS = 3

T = TypeVar("T")


def _retried(exc: Exception) -> bool:
    if isinstance(exc, EventOwnerGone):
        return True
    return isinstance(exc, OperationalError) and (
        getattr(exc.__cause__, "pgcode", None) in RETRIED_SQLSTATES
    )


def deadlock_retried(attempt: Callable[[], T], *, reset: Callable[[], None] = lambda: None) -> T:
    """Run `attempt` (one whole transaction) and, when PostgreSQL broke a deadlock with it or
    a lead it named went away meanwhile, call `reset` and run it again, up to ATTEMPTS times
    in all."""
    for tried in range(1, ATTEMPTS):
        try:
            return attempt()
        except (OperationalError, EventOwnerGone) as exc:
            if not _retried(exc):
                raise
            why = "a lead it named going away" if isinstance(exc, EventOwnerGone) else "a deadlock"
            log.info("ingest transaction broken by %s; trying again (%s)", why, tried)
            reset()
            time.sleep(random.uniform(0.005, 0.05) * tried)
    return attempt()


def events_ingest(
    messages: Sequence[Message],
    *,
    source: Source | None,
    browser_key: bool = False,
    bulk: bool = False,
) -> IngestOutcome:
    """`_events_ingest` in its own transaction, tried again (up to ATTEMPTS) when PostgreSQL
    breaks a deadlock with it; inside a caller's transaction, once (the caller's rolls back).
    `bulk`: a back-fill (a large batch, a CSV import): its leads are scored after live ones."""

    def attempt() -> IngestOutcome:
        return _events_ingest(messages, source=source, browser_key=browser_key, bulk=bulk)

    if connection.in_atomic_block:
        return attempt()
    return deadlock_retried(attempt, reset=messages_reset(messages))


def messages_reset(messages: Sequence[Message]) -> Callable[[], None]:
    """What puts the messages back as they were given: an attempt marks them as it resolves
    them (the lead each names, whether it is stored), and a retried one starts afresh."""
    given = [(m.lead_id, m.persist) for m in messages]

    def reset() -> None:
        for m, (lead_id, persist) in zip(messages, given, strict=True):
            m.lead_id, m.persist = lead_id, persist

    return reset


@transaction.atomic
def _events_ingest(
    messages: Sequence[Message],
    *,
    source: Source | None,
    browser_key: bool = False,
    bulk: bool = False,
) -> IngestOutcome:
    """Resolve who each message is about, store it once (by messageId), queue the leads.

    A fixed number of queries per call, whatever the batch size: ids are loaded at once,
    new leads inserted at once, events inserted in bulk (ON CONFLICT DO NOTHING on messageId).
    Lead rows are written last, locked once in id order and only when they change: a batch of
    plain activity holds no lead lock while its events are inserted, so concurrent batches
    about the same leads do not queue behind each other (and cannot deadlock).
    `browser_key`: sent with a browser write key, whose limits the resolver applies.
    """
    given = len(messages)
    messages = _not_stored(messages)
    claimed = [m for m in messages if m.persist]
    resolver = Resolver(source=source, browser_key=browser_key)
    resolver.prefetch(messages)
    resolver.resolve(messages)
    message_keys_release([m.message_id for m in claimed if not m.persist])  # refused ones
    out = resolver.out
    lead_ids = out.touched | {m.lead_id for m in messages if m.lead_id and m.persist}
    identities_write(resolver)
    # Sorted by messageId: two requests carrying the same ids (SDK retries) insert them in the
    # same order, so one waits for the other instead of deadlocking.
    stored = sorted((m for m in messages if m.persist), key=lambda m: m.message_id)
    source_id = source.pk if source else None
    events_insert([_event_row(m, source_id=source_id) for m in stored], claimed=True)
    adoption, adopted_changes = resolver_orphans_adopt(resolver)
    changes = adopted_changes + out.changes
    _leads_write(resolver, changes, _activity_latest(messages, adopted=adoption.latest))
    hooks.leads_changed(lead_ids | adoption.leads, bulk=bulk)
    return IngestOutcome(
        messages=given,
        created_emails=set(out.created_emails),
        lead_ids=lead_ids | adoption.leads,
        refused=[{"index": i, "error": why} for i, why in sorted(out.refused.items())],
    )


def _not_stored(messages: Sequence[Message]) -> list[Message]:
    """Drop the messages whose messageId is stored already (a retry, a replay) or came earlier
    in this call: they change nothing, neither links nor lead data (SPEC §3: stored once).
    The others' keys are taken now, for this transaction (events_insert(claimed=True) stores
    them). Messages that are never stored (a CSV row's identify) always pass: their stamp
    makes applying them again a no-op."""
    first: dict[str, Message] = {}
    for m in messages:
        if m.persist:
            first.setdefault(m.message_id, m)
    taken = message_keys_claim([(key, m.timestamp) for key, m in first.items()])
    return [
        m for m in messages if not m.persist or (m.message_id in taken and first[m.message_id] is m)
    ]


# A message's fields in EventRow's order, around its source_id: two C calls per event, into
# a plain tuple (a NamedTuple built by keyword took twice as long, ~0.1 s per 100,000 events;
# one built by `_make`, and copied to a tuple for orjson, ~0.1 s more than this in the
# expansion of 100,000: 2.49-2.59 s of Python against 2.68-2.81, alternated).
_HEAD = ("message_id", "type", "timestamp", "received_at", "sent_at", "lead_id")
_TAIL = (
    "anonymous_id",
    "user_id",
    "previous_id",
    "name",
    "properties",
    "context",
    "traits",
    "campaign",
)
if (*_HEAD, "source_id", *_TAIL) != FIELDS:
    raise ImportError("_event_row names the fields in another order than EventRow")
_ROW_HEAD, _ROW_TAIL = operator.attrgetter(*_HEAD), operator.attrgetter(*_TAIL)


def _event_row(m: Message, *, source_id: int | None) -> tuple[Any, ...]:
    """The event's columns in FIELDS order: a plain tuple (an EventRow costs a third more)."""
    return (*_ROW_HEAD(m), source_id, *_ROW_TAIL(m))


def _leads_write(
    resolver: Resolver, changes: Sequence[LeadChange], latest: dict[int, datetime]
) -> None:
    """Apply lead data in message order, and move last_activity_at forward.

    The leads that change are locked FOR NO KEY UPDATE in id order, in one statement (so
    two batches lock in the same order and never deadlock, and events inserted for these
    leads meanwhile, which only take KEY SHARE, do not wait); each write is one statement.
    """
    changed_ids = {pk for pk in (resolver.live(c.lead_id) for c in changes) if pk is not None}
    if not changed_ids and not latest:
        return
    if changed_ids:
        ids = sorted(changed_ids | latest.keys())
        locked = Lead.objects.select_for_update(no_key=True).filter(pk__in=ids).order_by("pk")
        _changes_apply(resolver, changes, {lead.pk: lead for lead in locked})
    _activity_write(latest)


def _changes_apply(
    resolver: Resolver, changes: Sequence[LeadChange], leads: dict[int, Lead]
) -> None:
    """Write the changed leads in one INSERT … ON CONFLICT DO UPDATE of the changed columns
    (Django's bulk_update builds a CASE per column and lead: 20× slower)."""
    before = {pk: _values(lead) for pk, lead in leads.items()}
    for change in changes:
        lead = leads.get(resolver.live(change.lead_id) or 0)
        if lead is not None:
            _change_apply(lead, change)
    columns: set[str] = set()
    rows = []
    for pk in sorted(leads):
        after = _values(leads[pk])
        changed = [n for n, a, b in zip(CHANGE_FIELDS, before[pk], after, strict=True) if a != b]
        if changed:
            columns.update(changed)
            rows.append(leads[pk])
    if rows:
        now = timezone.now()
        for lead in rows:
            lead.updated_at = now
        Lead.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["id"],
            update_fields=[*sorted(columns), "updated_at"],
            batch_size=500,
        )


def _values(lead: Lead) -> tuple[Any, ...]:
    return tuple(getattr(lead, name) for name in CHANGE_FIELDS)


def _change_apply(lead: Lead, change: LeadChange) -> bool:
    columns, traits = change.columns, change.traits
    if change.external_id:
        columns = {**columns, "external_id": change.external_id}
    if change.fill_only:  # a browser key's data fills blanks only (docs/security.md)
        columns = {k: v for k, v in columns.items() if getattr(lead, k) in ("", None)}
        traits = {k: v for k, v in traits.items() if k not in lead.traits}
    return lead_apply(lead, columns=columns, traits=traits, stamp=change.stamp)


def _activity_latest(
    messages: Sequence[Message], *, adopted: dict[int, datetime]
) -> dict[int, datetime]:
    """Each lead's newest activity in this batch (and in the history it just adopted)."""
    latest: dict[int, datetime] = dict(adopted)
    for m in messages:
        lead_id = m.lead_id
        if lead_id is None or m.type not in ACTIVITY_TYPES or not m.persist:
            continue
        if lead_id not in latest or m.timestamp > latest[lead_id]:
            latest[lead_id] = m.timestamp
    return latest


def _activity_write(latest: dict[int, datetime]) -> None:
    """last_activity_at only moves forward: one UPDATE for the whole batch (rows locked)."""
    if not latest:
        return
    ids = sorted(latest)
    if connection.vendor != "postgresql":
        for pk in ids:
            Lead.objects.filter(pk=pk).filter(
                Q(last_activity_at__isnull=True) | Q(last_activity_at__lt=latest[pk])
            ).update(last_activity_at=latest[pk])
        return
    # The inner query locks the rows it will change in id order (its ORDER BY runs before
    # the lock), so two batches about the same leads take turns instead of deadlocking.
    # The pairs as one JSON document (orjson writes the times; psycopg2 adapting a timestamp
    # array costs ~4 µs a value in Python).
    pairs = orjson.dumps([(pk, latest[pk]) for pk in ids], option=orjson.OPT_NAIVE_UTC).decode()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE leads_lead AS l SET last_activity_at = n.at FROM ("
            " SELECT o.id, v.at FROM leads_lead AS o JOIN ("
            "  SELECT (e->>0)::bigint AS id, (e->>1)::timestamptz AS at"
            "  FROM jsonb_array_elements(%s::jsonb) AS e) AS v ON o.id = v.id"
            " WHERE o.last_activity_at IS NULL OR o.last_activity_at < v.at"
            " ORDER BY o.id FOR NO KEY UPDATE OF o"
            ") AS n WHERE l.id = n.id",
            [pairs],
        )
