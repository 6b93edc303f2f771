"""Retention by days (docs/operations.md): events older than N days, and visitors never
identified who have not been seen for N days, are deleted.

- `events_retention_days_apply(days=N)`: every event (a lead's or not) whose timestamp is
  before now − N days goes. Monthly partitions that lie wholly before the cutoff are dropped
  whole (`event_partitions.partitions_drop_before`); the rest — the month the cutoff falls in,
  and old strays in the DEFAULT partition — is deleted row by row, in chunks, with the rows'
  message keys. The leads that lost events are queued for scoring.
- `visitors_retention_apply(days=N)`: a visitor never identified is an anonymousId (or, for
  messages without one, a userId) that no lead is known by — no identity row holds it and no
  lead has it as email — and whose events therefore belong to no lead. When its newest such
  event is older than N days, all its events go (with their keys). A visitor still active
  keeps its whole history, which counts once it identifies (SPEC §3).

Both are idempotent and safe to run while events arrive: each chunk is its own short
transaction, and only rows before the cutoff are touched.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from .event_partitions import (
    LOCK_TIMEOUT,
    Retention,
    events_partitioned,
    leads_queue,
    partitions_drop_before,
)
from .models import Event, EventKey, Identity, Lead

CHUNK = 5_000  # rows (or visitors) per transaction


def _cutoff(days: int, now: datetime | None) -> datetime:
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise ValueError("days must be a whole number, 1 or more")
    return (now or timezone.now()) - timedelta(days=days)


def _rows_delete(rows: QuerySet[Event], result: Retention) -> int:
    """Delete `rows` (a filter that only ever matches rows before the cutoff) a chunk at a
    time, with their keys; count them into `result` and queue their leads."""
    deleted = 0
    while True:
        with transaction.atomic():
            chunk = list(rows.order_by().values_list("id", "message_id", "lead_id")[:CHUNK])
            if not chunk:
                break
            # the same filter again: a row that changed since (a visitor identified just now,
            # its events attached to the lead) stays
            gone, _ = rows.filter(id__in=[row[0] for row in chunk]).delete()
            keys, _ = EventKey.objects.filter(message_id__in=[row[1] for row in chunk]).delete()
        deleted += gone
        result.events += gone
        result.keys += keys
        leads_queue(sorted({row[2] for row in chunk if row[2] is not None}), result)
    return deleted


def events_retention_days_apply(
    *, days: int, now: datetime | None = None, lock_timeout: str | None = LOCK_TIMEOUT
) -> Retention:
    """Delete every event older than `days` days: whole months dropped, the rest by rows."""
    result = Retention(cutoff=_cutoff(days, now))
    if events_partitioned():
        partitions_drop_before(result, lock_timeout=lock_timeout)
    _rows_delete(Event.objects.filter(timestamp__lt=result.cutoff), result)
    return result


@dataclass
class VisitorRetention:
    """What one visitors' retention run removed (`removed`: the events and their keys)."""

    cutoff: datetime
    visitors: int = 0
    kept_active: int = 0  # visitors with old events, seen again since the cutoff
    kept_identified: int = 0  # ids a lead is known by (their events wait to be attached)
    removed: Retention = field(init=False)

    def __post_init__(self) -> None:
        self.removed = Retention(cutoff=self.cutoff)


def _identified(values: Iterable[str]) -> set[str]:
    """Of `values`, those a lead is known by: an identity row, or a lead's email."""
    values = list(values)
    known = set(Identity.objects.filter(value__in=values).values_list("value", flat=True))
    lowered = {v.lower(): v for v in values}
    emails = Lead.objects.filter(email__in=list(lowered)).values_list("email", flat=True)
    return known | {lowered[e] for e in emails}


def _visitors_pass(column: str, only: Q, result: VisitorRetention) -> None:
    """Visitors keyed by `column` (anonymous_id, or user_id of messages without one)."""
    orphans = Event.objects.filter(only, lead__isnull=True).exclude(**{column: ""})
    after = ""
    while True:
        candidates = list(
            orphans.filter(timestamp__lt=result.cutoff, **{f"{column}__gt": after})
            .order_by(column)
            .values_list(column, flat=True)
            .distinct()[:CHUNK]
        )
        if not candidates:
            return
        after = candidates[-1]
        active = set(
            orphans.filter(timestamp__gte=result.cutoff, **{f"{column}__in": candidates})
            .values_list(column, flat=True)
            .distinct()
        )
        identified = _identified(set(candidates) - active)
        stale = [c for c in candidates if c not in active and c not in identified]
        result.kept_active += len(active)
        result.kept_identified += len(identified)
        if stale:
            rows = orphans.filter(timestamp__lt=result.cutoff, **{f"{column}__in": stale})
            _rows_delete(rows, result.removed)
            result.visitors += len(stale)


def visitors_retention_apply(*, days: int, now: datetime | None = None) -> VisitorRetention:
    """Delete the events of visitors never identified and not seen for `days` days."""
    result = VisitorRetention(cutoff=_cutoff(days, now))
    _visitors_pass("anonymous_id", Q(), result)
    _visitors_pass("user_id", Q(anonymous_id=""), result)
    return result
