"""Large batches: accepted as one durable row, expanded into events on the `ingest` queue.

A /v1/batch request of INGEST_DEFER_MIN_MESSAGES valid messages or more, from a server write
key, is validated as any other (its rejected messages are named in the answer), and its valid
messages are committed as one `InboxBatch` row before the 200. A worker then stores them with
the same `events_ingest` as a small request, several rows in one transaction, and deletes the
rows in that transaction: a row is expanded whole or not at all, and a worker killed midway
leaves it for the next (the kick after commit, else the beat sweep). messageId keeps every
message stored once, whichever path or how many times it came. docs/ingestion.md says why.
"""

import logging
import operator
import time
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

import orjson
from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from ..event_partitions import event_partitions_analyze
from ..event_store import rows_json_bytes
from ..models import InboxBatch, Source
from ..services import task_kick
from .messages import Message
from .services import deadlock_retried, events_ingest

log = logging.getLogger(__name__)

EXPAND_TASK = "mqlapp.leads.tasks.inbox_expand"
# Rows one transaction expands together (a row holds up to 2,500 messages).
CLAIM_ROWS = 8
# A row that failed waits this long before it is tried again (doubling, at most a day).
RETRY_FIRST = timedelta(minutes=1)
RETRY_MOST = timedelta(days=1)

# Message's fields as a row keeps them, in this order (lead_id and persist are the
# resolver's, set afresh when the row is expanded).
PACKED = (
    "index", "type", "message_id", "anonymous_id", "user_id", "name", "properties", "context",
    "traits", "timestamp", "sent_at", "received_at", "previous_id", "group_id", "campaign",
)  # fmt: skip
_PACKED_FIELDS = operator.attrgetter(*PACKED)
_AT = PACKED.index("timestamp")  # then sent_at and received_at


def inbox_deferred(*, count: int, source: Source) -> bool:
    """Whether a request's `count` valid messages go through the inbox: a large batch from a
    server key, and only where a worker runs (eager mode has none to expand the row)."""
    from celery import current_app  # noqa: PLC0415 (the app is set up by the shell)

    least = settings.INGEST_DEFER_MIN_MESSAGES
    return (
        0 < least <= count
        and source.kind != Source.Kind.BROWSER
        and not current_app.conf.task_always_eager
    )


def messages_pack(messages: Sequence[Message]) -> str:
    """The messages as one JSON document, written as the events' own
    (event_store.rows_json_bytes), as the text the row keeps."""
    fields = _PACKED_FIELDS  # one C call per message, not a getattr per field
    return rows_json_bytes([fields(m) for m in messages]).decode()


def messages_unpack(blob: str | bytes | memoryview) -> list[Message]:
    """`messages_pack`'s messages back (bytes: a row SQLite kept from before migration
    leads.0009, which made the column text)."""
    messages = []
    when = datetime.fromisoformat
    width = len(PACKED)
    for row in orjson.loads(blob):
        if len(row) != width:
            raise ValueError(f"an inbox message has {len(row)} fields, not {width}")
        timestamp, sent_at, received_at = row[_AT : _AT + 3]
        row[_AT : _AT + 3] = (
            when(timestamp),
            None if sent_at is None else when(sent_at),
            when(received_at),
        )
        messages.append(Message(*row))  # PACKED is Message's own field order
    return messages


@transaction.atomic
def inbox_put(messages: Sequence[Message], *, source: Source, received_at: datetime) -> int:
    """Keep a request's valid messages as one row; the expansion task runs after commit."""
    row = InboxBatch.objects.create(
        source=source, received_at=received_at, count=len(messages),
        messages=messages_pack(messages),
    )  # fmt: skip
    transaction.on_commit(lambda: task_kick(EXPAND_TASK))
    return row.pk


def inbox_expand(*, rows: int = CLAIM_ROWS, seconds: float | None = None) -> int:
    """Expand waiting rows until none is left; returns how many rows were expanded (or set
    aside). Safe to run in many workers at once: each claims rows the others skip.
    `seconds`: stop after this long and kick a new run for the rest, so under a steady stream
    of large batches a CSV import queued on the same pool gets its turn."""
    done = 0
    deadline = None if seconds is None else time.monotonic() + seconds
    while True:
        if deadline is not None and time.monotonic() >= deadline:
            task_kick(EXPAND_TASK)
            return done
        try:
            taken = _expand_retried(rows)
        except OperationalError:
            raise  # the database went away: the task's retry starts again
        except Exception:  # noqa: BLE001 (a row that cannot be stored: find it, alone)
            log.warning("expanding %d inbox rows failed; expanding them one by one", rows)
            taken = sum(_expand_alone() for _ in range(rows))
        if not taken:
            return done
        done += taken
        event_partitions_analyze()


def _expand_retried(rows: int) -> int:
    # Each attempt claims and unpacks its rows afresh: nothing to reset between attempts.
    return int(deadlock_retried(lambda: _expand(rows)))


def _commit_without_waiting() -> None:
    """This transaction's commit does not wait for its WAL to reach the disk (PostgreSQL's
    `synchronous_commit = off`, for this transaction only). Safe here, and only here: the
    rows it expands were made durable by the request (its 200), and they are deleted in this
    same transaction, so a crash that loses the commit loses the deletion with it, and the
    rows are expanded again (messageId stores each message once). Anything committed after
    it that reads its events (scoring, qualification) waits for its own WAL, which PostgreSQL
    writes in order, this transaction's first. Expanding 100,000 events alone took 5–9 %
    less time without the wait (docs/benchmarks.md). Only as the outermost transaction:
    inside a caller's (a test's, say) `SET LOCAL` would last until the caller's commit."""
    if connection.vendor == "postgresql" and len(connection.atomic_blocks) == 1:
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


@transaction.atomic
def _expand(rows: int) -> int:
    _commit_without_waiting()
    batches = _claim(rows)
    if not batches:
        return 0
    sources: dict[int | None, Source | None] = {}
    by_source: dict[int | None, list[Message]] = defaultdict(list)
    for batch in batches:
        sources[batch.source_id] = batch.source
        by_source[batch.source_id].extend(messages_unpack(batch.messages))
    for source_id, messages in by_source.items():
        events_ingest(messages, source=sources[source_id], bulk=True)  # in this transaction
    InboxBatch.objects.filter(pk__in=[b.pk for b in batches]).delete()
    return len(batches)


@transaction.atomic
def _expand_alone() -> int:
    """One row in its own transaction; a row that fails is set aside with its error (kept,
    tried again after RETRY_FIRST, doubling) and the rows behind it go on."""
    _commit_without_waiting()
    batches = _claim(1)
    if not batches:
        return 0
    batch = batches[0]
    try:
        with transaction.atomic():
            events_ingest(messages_unpack(batch.messages), source=batch.source, bulk=True)
    except OperationalError:
        raise
    except Exception as exc:  # kept and reported, never lost
        log.exception("inbox row %s (%s messages) set aside", batch.pk, batch.count)
        wait = min(RETRY_FIRST * 2**batch.attempts, RETRY_MOST)
        InboxBatch.objects.filter(pk=batch.pk).update(
            attempts=batch.attempts + 1,
            error=f"{type(exc).__name__}: {exc}"[:2000],
            not_before=timezone.now() + wait,
        )
        return 1
    batch.delete()
    return 1


def _due() -> Q:
    """Rows to expand now: all but those set aside until later."""
    return Q(not_before__isnull=True) | Q(not_before__lte=timezone.now())


def _claim(rows: int) -> list[InboxBatch]:
    """The oldest waiting rows no other worker holds, locked for this transaction."""
    query = InboxBatch.objects.filter(_due()).order_by("pk").select_related("source")
    if connection.vendor == "postgresql":
        query = query.select_for_update(skip_locked=True, of=("self",))
    return list(query[:rows])


def inbox_expanding() -> bool:
    """Whether rows are waiting to be expanded now, or being expanded (a back-fill still
    arriving); rows set aside after a failure do not count. Asked before every scoring
    batch: on PostgreSQL one fixed statement (the ORM's building of it was most of its cost,
    ~5 % of a back-fill's scoring)."""
    if connection.vendor != "postgresql":
        return InboxBatch.objects.filter(_due()).exists()
    with connection.cursor() as cursor:
        cursor.execute(_EXPANDING)
        return bool(cursor.fetchone()[0])


_EXPANDING = (
    f"SELECT EXISTS (SELECT FROM {InboxBatch._meta.db_table} "  # noqa: S608 (a model's table name)
    "WHERE not_before IS NULL OR not_before <= statement_timestamp())"
)


def inbox_waiting() -> int:
    """Rows waiting to be expanded (set-aside ones included)."""
    return InboxBatch.objects.count()


def inbox_sweep(*, seconds: float | None = None) -> int:
    """The beat's catch-up: expand what a lost kick or a killed worker left (for at most
    `seconds`, then a new run takes the rest)."""
    if not InboxBatch.objects.exists():
        return 0
    return inbox_expand(seconds=seconds)
