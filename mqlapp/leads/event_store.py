"""The one way events are inserted: once per messageId, in one statement, lean.

On PostgreSQL the events table is partitioned by month (docs/partitioning.md), so it cannot
hold a unique index on `message_id` alone; the key table `leads_eventkey` does. One statement
writes both: the keys go in first with ON CONFLICT DO NOTHING, and only the rows whose key was
new go into the events table. The rows travel as one JSON document (orjson, one C call) that
PostgreSQL takes apart with jsonb_array_elements: no model instance and no per-value
adaptation in Python. Measured against `bulk_create` and `unnest` of one typed array per
column in docs/partitioning.md. On SQLite (the embedded default) the plain table's unique
`message_id` does the job, through the ORM.
"""

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

import orjson
from django.db import connection

from .models import Event, EventKey, Lead, Source
from .sqlparams import id_array, json_param


class EventRow(NamedTuple):
    """The columns of one event to store (the order is the INSERT's)."""

    message_id: str
    type: str
    timestamp: datetime
    received_at: datetime
    sent_at: datetime | None = None
    lead_id: int | None = None
    source_id: int | None = None
    anonymous_id: str = ""
    user_id: str = ""
    previous_id: str = ""
    name: str = ""
    # One shared empty dict per default: nothing here mutates a row's values.
    properties: dict[str, Any] = {}
    context: dict[str, Any] = {}
    traits: dict[str, Any] = {}
    campaign: dict[str, Any] = {}


FIELDS: tuple[str, ...] = EventRow._fields  # noqa: SLF001 (NamedTuple's public API)

# Each column's SQL type, as the statement casts it.
COLUMN_TYPES = {
    "message_id": "varchar",
    "type": "varchar",
    "timestamp": "timestamptz",
    "received_at": "timestamptz",
    "sent_at": "timestamptz",
    "lead_id": "bigint",
    "source_id": "bigint",
    "anonymous_id": "varchar",
    "user_id": "varchar",
    "previous_id": "varchar",
    "name": "varchar",
    "properties": "jsonb",
    "context": "jsonb",
    "traits": "jsonb",
    "campaign": "jsonb",
}
_COLUMNS = ", ".join(f'"{name}"' for name in FIELDS)
# Row i of the document is [message_id, type, timestamp, ...] in EventRow's order; jsonb
# columns are taken as they are, the others as text cast to their type.
_FIELDS = ", ".join(
    f'e->{i} AS "{name}"' if kind == "jsonb" else f'(e->>{i})::{kind} AS "{name}"'
    for i, (name, kind) in enumerate((n, COLUMN_TYPES[n]) for n in FIELDS)
)
# The keys first: a key that is already there (an SDK retry, whatever its timestamp) stops
# its row. `fresh` holds only this statement's new keys, so a messageId given twice in one
# call must be given once (events_insert keeps the first).
_INSERT = (
    f"WITH r AS MATERIALIZED (SELECT {_FIELDS} FROM jsonb_array_elements(%s::jsonb) AS e), "  # noqa: S608 (fixed names only; the values are one parameter)
    f'fresh AS (INSERT INTO {EventKey._meta.db_table} (message_id, "timestamp") '
    'SELECT message_id, "timestamp" FROM r ON CONFLICT DO NOTHING RETURNING message_id) '
    f"INSERT INTO {Event._meta.db_table} ({_COLUMNS}) "
    f"SELECT {_COLUMNS} FROM r WHERE message_id IN (SELECT message_id FROM fresh)"
)


def track_name_key(column: str) -> str:
    """SQL for what the `event_track_name_key` index (migration 0007) holds of a track
    event's `column` name: lower-cased when it is plain ASCII with no space or control
    character at either end, else NULL (a name that only Python's exact rule can match). A
    query spelling the expression this way, with `type = 'track'`, is served by the index."""
    return (
        f"CASE WHEN octet_length({column}) = char_length({column}) AND ascii({column}) > 32 "
        f"AND ascii(right({column}, 1)) > 32 THEN lower({column}) END"
    )


# Rows whose keys message_keys_claim took in this transaction.
_INSERT_CLAIMED = (
    f"INSERT INTO {Event._meta.db_table} ({_COLUMNS}) "  # noqa: S608 (fixed names only)
    f"SELECT {_FIELDS} FROM jsonb_array_elements(%s::jsonb) AS e"
)
# The keys travel as one JSON document [[messageId, timestamp], ...] (one orjson call): as
# arrays, psycopg2 adapted each timestamp in Python, half the statement's time for 4,000 keys.
_CLAIM = (
    f'INSERT INTO {EventKey._meta.db_table} (message_id, "timestamp") '  # noqa: S608 (a fixed name)
    "SELECT e->>0, (e->>1)::timestamptz FROM jsonb_array_elements(%s::jsonb) "
    "WITH ORDINALITY AS v(e, i) ORDER BY i ON CONFLICT DO NOTHING RETURNING message_id"
)


def rows_json_bytes(rows: Sequence[Sequence[Any]]) -> bytes:
    """The rows as one JSON array of arrays (UTF-8), in one C call (orjson writes datetimes in
    ISO 8601 with their offset; a naive one is UTC, as message parsing reads it); the standard
    library only for what orjson refuses (an integer past 64 bits, a lone surrogate), which
    PostgreSQL then accepts or refuses as it would anyway."""
    document = _rows_document(rows)
    return document.encode() if isinstance(document, str) else document


def rows_json_param(rows: Sequence[Sequence[Any]]) -> Any:
    """The same document as a statement's parameter: orjson's bytes as they are
    (sqlparams.JsonText), the standard library's text for the driver to quote."""
    document = _rows_document(rows)
    return document if isinstance(document, str) else json_param(document)


def _rows_document(rows: Sequence[Sequence[Any]]) -> bytes | str:
    plain = [row if type(row) is tuple else tuple(row) for row in rows]  # orjson: no NamedTuple
    try:
        return orjson.dumps(plain, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_NAIVE_UTC)
    except TypeError:
        return json.dumps(plain, ensure_ascii=False, default=_iso)


def _utc(value: Any) -> Any:
    """A naive datetime is UTC (as message parsing reads one), on every path."""
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


class EventOwnerGone(Exception):
    """A lead (or source) the events name was deleted, merged away or erased, after the
    caller resolved it: nothing of the caller's transaction may be kept; resolving the
    messages again finds where the lead went (ingest.services.deadlock_retried does)."""


# Each table's rows named, held FOR KEY SHARE in id order: a merge or an erasure (which lock
# the lead FOR UPDATE to delete it) waits for the caller's commit, or went first and the row
# is missing from the count.
_HOLD = (
    f"SELECT (SELECT count(*) FROM (SELECT 1 FROM {Lead._meta.db_table} "  # noqa: S608 (fixed names only)
    "WHERE id = ANY(%s::bigint[]) ORDER BY id FOR KEY SHARE) AS l), "
    f"(SELECT count(*) FROM (SELECT 1 FROM {Source._meta.db_table} "
    "WHERE id = ANY(%s::bigint[]) ORDER BY id FOR KEY SHARE) AS s)"
)


def event_owners_hold(lead_ids: Iterable[int | None], source_ids: Iterable[int | None]) -> None:
    """What the events table's foreign keys did, once per statement instead of once per row:
    the leads and sources that the caller's transaction points events at exist, and stay
    until it ends; raises EventOwnerGone when one does not. Call it after writing the rows,
    as the deferred constraint checked them at commit (the constraint cost 1.7 s of commit
    per 100,000 events, this 0.3 s: docs/partitioning.md). On SQLite writers take turns, so
    the caller, having written, holds the database: counting is enough."""
    leads = sorted({pk for pk in lead_ids if pk is not None})
    sources = sorted({pk for pk in source_ids if pk is not None})
    if not leads and not sources:
        return
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_HOLD, [id_array(leads), id_array(sources)])
            found = cursor.fetchone()
    else:
        found = (
            Lead.objects.filter(pk__in=leads).count(),
            Source.objects.filter(pk__in=sources).count(),
        )
    if tuple(found) != (len(leads), len(sources)):
        raise EventOwnerGone(
            f"of {len(leads)} leads and {len(sources)} sources named, {found[0]} and "
            f"{found[1]} exist"
        )


# Where a row (an EventRow, or a plain tuple of FIELDS: ingestion builds those, a third
# cheaper per event) holds these.
_MESSAGE_ID, _LEAD_ID, _SOURCE_ID = (
    FIELDS.index(n) for n in ("message_id", "lead_id", "source_id")
)


def events_insert(rows: Sequence[tuple[Any, ...]], *, claimed: bool = False) -> int:
    """Store the rows (EventRows, or tuples of the FIELDS in their order) whose messageId is
    not stored yet; returns how many were new.

    Call it inside the caller's transaction. Rows go in messageId order, so two requests
    carrying the same ids (SDK retries) take them in the same order: one waits, neither
    deadlocks. The first of several rows with one messageId wins, as with ON CONFLICT.
    `claimed`: this transaction took the rows' keys already (message_keys_claim), so the
    rows go straight into the events table.
    """
    unique: dict[str, tuple[Any, ...]] = {}
    for row in rows:
        unique.setdefault(row[_MESSAGE_ID], row)
    if not unique:
        return 0
    ordered = [unique[key] for key in sorted(unique)]
    if connection.vendor != "postgresql":
        stored = _insert_plain(ordered)
    else:
        with connection.cursor() as cursor:
            cursor.execute(_INSERT_CLAIMED if claimed else _INSERT, [rows_json_param(ordered)])
            stored = int(cursor.rowcount)
    if stored:
        event_owners_hold((r[_LEAD_ID] for r in ordered), (r[_SOURCE_ID] for r in ordered))
    return stored


def message_keys_claim(keys: Sequence[tuple[str, datetime]]) -> set[str]:
    """Take the keys (messageId, timestamp) that no stored event holds yet, for the caller's
    transaction; returns the messageIds taken. A key another transaction holds uncommitted
    waits for it (then counts as stored if it committed). In messageId order, as
    events_insert: concurrent retries wait for each other instead of deadlocking. One index
    probe per id: the replay check and the key insert in one statement."""
    if not keys:
        return set()
    if connection.vendor != "postgresql":
        stored = message_ids_stored([key for key, _ in keys])
        return {key for key, _ in keys if key not in stored}
    ordered = sorted(dict(keys).items())
    with connection.cursor() as cursor:
        cursor.execute(_CLAIM, [rows_json_param(ordered)])
        return {row[0] for row in cursor.fetchall()}


def message_keys_release(message_ids: Sequence[str]) -> None:
    """Give back keys taken by message_keys_claim whose messages were refused after all."""
    if message_ids and connection.vendor == "postgresql":
        EventKey.objects.filter(message_id__in=list(message_ids)).delete()


def message_ids_stored(message_ids: Sequence[str]) -> set[str]:
    """Which of these messageIds are stored already (one indexed query)."""
    if connection.vendor == "postgresql":
        # One array parameter: a 500-message batch costs one index probe per id, not 500
        # query placeholders for the ORM to build and the driver to quote.
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT message_id FROM {EventKey._meta.db_table} WHERE message_id = ANY(%s)",  # noqa: S608 (a fixed name)
                [list(message_ids)],
            )
            return {row[0] for row in cursor.fetchall()}
    keys = Event.objects.filter(message_id__in=list(message_ids))
    return set(keys.values_list("message_id", flat=True))


def _insert_plain(rows: list[tuple[Any, ...]]) -> int:
    """SQLite (and any database without the key table's statement): the ORM, idempotent on
    the unique `message_id`. Writers take turns on SQLite, so counting first is exact."""
    known = set(
        Event.objects.filter(message_id__in=[r[_MESSAGE_ID] for r in rows]).values_list(
            "message_id", flat=True
        )
    )
    fresh = [
        Event(**{name: _utc(value) for name, value in zip(FIELDS, row, strict=True)})
        for row in rows
        if row[_MESSAGE_ID] not in known
    ]
    Event.objects.bulk_create(fresh, ignore_conflicts=True, batch_size=500)
    return len(fresh)
