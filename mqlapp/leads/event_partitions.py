"""The events table's monthly partitions (PostgreSQL): create the months ahead, move strays
out of the DEFAULT partition, and drop whole months past retention (docs/partitioning.md).

A month is a UTC calendar month: `leads_event_pYYYYMM` holds timestamps from its first
instant up to the next month's. `leads_event_default` takes every timestamp no partition
covers (very old or far-future events); a month's partition, once created, takes them over.
On SQLite there are no partitions: upkeep does nothing and retention is a plain DELETE.
"""

import logging
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.conf import settings
from django.db import DatabaseError, OperationalError, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper
from django.utils import timezone

from . import hooks
from .models import Event, EventKey

log = logging.getLogger(__name__)

PARENT = Event._meta.db_table
DEFAULT = f"{PARENT}_default"
KEYS = EventKey._meta.db_table
# Months created ahead of the current one (the beat job runs hourly, the migration once).
AHEAD = 2
_NAME = re.compile(rf"^{PARENT}_p(\d{{4}})(\d{{2}})$")
# pg_advisory_xact_lock key: one partition change at a time (two beat runs, a deploy).
_LOCK = 0x6C65_6164_735F_6576
# Creating or detaching a partition locks the whole table briefly; behind a long report it
# would queue every insert, so give up instead (the next hourly run tries again).
LOCK_TIMEOUT = "5s"
_CHUNK = 5_000


def month_start(moment: datetime) -> datetime:
    """The first instant of `moment`'s UTC month."""
    moment = moment.astimezone(UTC)
    return datetime(moment.year, moment.month, 1, tzinfo=UTC)


def month_add(month: datetime, months: int) -> datetime:
    index = month.year * 12 + month.month - 1 + months
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def partition_name(month: datetime) -> str:
    return f"{PARENT}_p{month:%Y%m}"


def _month_of(name: str) -> datetime | None:
    found = _NAME.match(name)
    return datetime(int(found[1]), int(found[2]), 1, tzinfo=UTC) if found else None


def events_partitioned(using: str = "default") -> bool:
    """Whether the events table is a partitioned table here (PostgreSQL after migration 0002)."""
    conn = connections[using]
    if conn.vendor != "postgresql":
        return False
    with conn.cursor() as cursor:
        cursor.execute("SELECT relkind = 'p' FROM pg_class WHERE oid = to_regclass(%s)", [PARENT])
        row = cursor.fetchone()
    return bool(row and row[0])


def event_partitions(using: str = "default") -> dict[str, datetime]:
    """The monthly partitions attached now: name → the month it holds."""
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = to_regclass(%s)",
            [PARENT],
        )
        names = [name for (name,) in cursor.fetchall()]
    return {name: month for name in names if (month := _month_of(name)) is not None}


# A partition whose rows changed this much since PostgreSQL last sampled it is sampled again
# at once (ANALYZE) by the back-fill that changed it: autovacuum does the same, but up to a
# minute later and at its own pace, and meanwhile the planner reads a month that grew from
# 10,000 rows to 100,000 as if it were the small one (a fast-track lookup of 500 leads then
# read every track event of the month: 75 ms instead of 3 ms; docs/benchmarks.md). Once the
# month has doubled, and only the columns the queries on events select by: sampling the JSON
# columns as well, every fifth of growth, cost more than the plans it saved. "Changed" is
# the live rows counted now against the rows the last sample found (`reltuples`): an ANALYZE
# of some columns leaves PostgreSQL's count of changes since the last sample as it was (that
# count is autovacuum's, for its own full sample), so a month that only grows looked changed
# again after every transaction of a back-fill and was sampled each time (25 samples of
# ~40 ms for a month that grew to 190,000 rows, instead of about five).
ANALYZE_SHARE = 1.0
ANALYZE_LEAST = 10_000
ANALYZE_COLUMNS = ("lead_id", "type", "name", "timestamp")
# A quarter of PostgreSQL's default sample (300 × 25 = 7,500 rows, not 30,000): 65 ms
# instead of 180 ms for a month of 110,000 events, and the plans that needed it (the
# fast-track lookup, 10–15 ms per 500 leads either way) are the same; autovacuum samples the
# month again at the full size later.
ANALYZE_STATISTICS = 25
ANALYZE_LOCK_TIMEOUT = "200ms"
_ANALYZE_LOCK = _LOCK + 1
_STALE = (
    "SELECT c.relname FROM pg_stat_user_tables s "
    "JOIN pg_inherits i ON i.inhrelid = s.relid JOIN pg_class c ON c.oid = s.relid "
    "WHERE i.inhparent = to_regclass(%s) "
    "AND abs(s.n_live_tup - greatest(c.reltuples, 0)) > greatest(%s, %s * greatest(c.reltuples, 0))"
)


def event_partitions_analyze() -> list[str]:
    """Sample again (ANALYZE, ANALYZE_COLUMNS) the partitions whose rows changed by more
    than ANALYZE_SHARE (and at least ANALYZE_LEAST rows) since they were last sampled; one
    caller at a time, the others go on at once. Returns the partitions sampled. Call it
    outside a transaction, after a large load has committed (the inbox's expansion does)."""
    conn = connections["default"]
    if conn.in_atomic_block or not events_partitioned():
        return []  # inside a caller's transaction its lock timeout would outlive this call
    stale = _stale()
    if not stale:
        return []
    if DEFAULT in stale:
        # a back-fill of past months: their rows move out first, and their new partitions,
        # never sampled, are (this backend's counts of the move are not published yet)
        moved = _drain_during_backfill()
        stale += [name for name in moved if name not in stale]
    columns = ", ".join(conn.ops.quote_name(c) for c in ANALYZE_COLUMNS)
    try:
        with transaction.atomic(), conn.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [_ANALYZE_LOCK])
            if not cursor.fetchone()[0]:
                return []
            # A VACUUM or a partition change holding the month: the back-fill goes on, and
            # the next transaction (or autovacuum) samples it.
            cursor.execute("SET LOCAL lock_timeout = %s", [ANALYZE_LOCK_TIMEOUT])
            cursor.execute("SET LOCAL default_statistics_target = %s", [ANALYZE_STATISTICS])
            for name in stale:
                cursor.execute(f"ANALYZE {conn.ops.quote_name(name)} ({columns})")
    except OperationalError as exc:  # the lock timeout; the data is stored either way
        log.info("sampling the events' partitions skipped: %s", exc)
        return []
    return stale


def _stale() -> list[str]:
    """The partitions due for sampling (`event_partitions_analyze`)."""
    with connections["default"].cursor() as cursor:
        cursor.execute(_STALE, [PARENT, ANALYZE_LEAST, ANALYZE_SHARE])
        return [name for (name,) in cursor.fetchall()]


def _columns(conn: BaseDatabaseWrapper) -> str:
    with conn.cursor() as cursor:
        cursor.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attnum > 0 "
            "AND NOT attisdropped ORDER BY attnum",
            [PARENT],
        )
        return ", ".join(f'"{name}"' for (name,) in cursor.fetchall())


def _months(first: datetime, last: datetime) -> Iterator[datetime]:
    month, end = month_start(first), month_start(last)
    while month <= end:
        yield month
        month = month_add(month, 1)


def event_partitions_ensure(
    first: datetime, last: datetime, *, using: str = "default", lock_timeout: str | None = None
) -> list[str]:
    """Create the missing monthly partitions from `first`'s month to `last`'s; returns their
    names. Idempotent. Rows of such a month waiting in the DEFAULT partition move into it
    (PostgreSQL refuses a new partition while the DEFAULT one holds rows of its range)."""
    if not events_partitioned(using):
        return []
    return _months_create(list(_months(first, last)), using=using, lock_timeout=lock_timeout)


def _months_create(
    months: Sequence[datetime],
    *,
    using: str = "default",
    lock_timeout: str | None = None,
    wait: bool = True,
) -> list[str]:
    """The partitions of `months` that are missing, created in one transaction (their strays
    moved out of DEFAULT); `wait=False`: nothing when another partition change holds the lock."""
    conn = connections[using]
    created: list[str] = []
    with transaction.atomic(using=using), conn.cursor() as cursor:
        if wait:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK])
        else:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [_LOCK])
            if not cursor.fetchone()[0]:
                return []
        if lock_timeout:
            cursor.execute("SELECT set_config('lock_timeout', %s, true)", [lock_timeout])
        existing = event_partitions(using)
        missing = [month for month in months if partition_name(month) not in existing]
        if not missing:
            return []
        # The lock that creating a partition takes anyway, taken before the strays are
        # looked for and moved: a row of the month committed into DEFAULT meanwhile (a
        # back-fill going on) would make PostgreSQL refuse the new partition.
        cursor.execute(f"LOCK TABLE {PARENT} IN ACCESS EXCLUSIVE MODE")
        columns = _columns(conn)
        for month in missing:
            name = partition_name(month)
            _partition_create(cursor, name, month, month_add(month, 1), columns=columns)
            created.append(name)
    return created


# A back-fill of history (events months old, which no partition covered when they arrived)
# lands in DEFAULT. A month before the current one, back to BEHIND months, gets a partition of
# its own once DEFAULT holds DRAIN_LEAST of its events: its rows move into it, and its later
# events go there directly, so retention drops it whole. Older months, and a month's few
# stragglers, stay in DEFAULT (retention deletes those row by row). Each month moves in a
# transaction of its own: the move holds the table's lock while it copies the rows back, so
# a month with more than DRAIN_MOST rows waiting is left for `manage.py events_partitions
# --drain` at a quiet hour (logged), not moved by the hourly job or a back-fill.
BEHIND = 24
DRAIN_LEAST = 1_000
DRAIN_MOST = 100_000
# A back-fill's expansion drains without waiting for the lock (another expander may hold the
# table); after a try that found it busy, this process waits this long before the next.
DRAIN_LOCK_TIMEOUT = "2s"
DRAIN_RETRY_SECONDS = 60.0
_drain_after = 0.0
_DRAIN_MONTHS = (
    "SELECT date_trunc('month', \"timestamp\" AT TIME ZONE 'UTC'), count(*) "  # noqa: S608 (a fixed name)
    f'FROM {DEFAULT} WHERE "timestamp" >= %s AND "timestamp" < %s GROUP BY 1 '
    "HAVING count(*) >= %s ORDER BY 1"
)


@dataclass
class Drained:
    """What one drain of the DEFAULT partition did: partitions created (rows moved), and the
    months it left there for being larger than DRAIN_MOST."""

    created: list[str] = field(default_factory=list)
    too_large: dict[str, int] = field(default_factory=dict)


def event_partitions_drain(
    *,
    now: datetime | None = None,
    using: str = "default",
    whole: bool = False,
    lock_timeout: str | None = LOCK_TIMEOUT,
    wait: bool = True,
) -> Drained:
    """Give each month from BEHIND months back (and not before EVENT_RETENTION_MONTHS' cutoff)
    to the last one created ahead that holds at least DRAIN_LEAST events in DEFAULT a
    partition of its own, its rows moved there; a month of more than DRAIN_MOST rows is left
    and reported, unless `whole`. A month whose lock could not be had is left for the next
    run; `wait=False`: so is every month while another partition change holds the lock."""
    done = Drained()
    if not events_partitioned(using):
        return done
    least, most = DRAIN_LEAST, None if whole else DRAIN_MOST
    month = month_start(now or timezone.now())
    first = month_add(month, -BEHIND)
    keep = getattr(settings, "EVENT_RETENTION_MONTHS", None)
    if keep is not None:
        first = max(first, month_add(month, -keep))
    with connections[using].cursor() as cursor:
        cursor.execute(_DRAIN_MONTHS, [first, month_add(month, AHEAD + 1), least])
        found = [(start.replace(tzinfo=UTC), count) for start, count in cursor.fetchall()]
    for start, count in found:
        name = partition_name(start)
        if most is not None and count > most:
            done.too_large[name] = count
            log.warning(
                "%s events of %s wait in %s: more than %s to move under the table's lock now; "
                "`manage.py events_partitions --drain` moves them (at a quiet hour)",
                count, f"{start:%Y-%m}", DEFAULT, most,
            )  # fmt: skip
            continue
        try:
            done.created += _months_create(
                [start], using=using, lock_timeout=lock_timeout, wait=wait
            )
        except OperationalError as exc:  # the lock timeout: the next run tries again
            log.info("moving %s out of %s skipped: %s", f"{start:%Y-%m}", DEFAULT, exc)
        except DatabaseError:  # never the caller's failure: its events are stored already
            log.exception("moving %s out of %s failed", f"{start:%Y-%m}", DEFAULT)
    return done


def _drain_during_backfill() -> list[str]:
    """Called when a back-fill made DEFAULT grow (event_partitions_analyze found it due for
    sampling): drain it now, without waiting for a busy lock; after a try that created
    nothing, this process tries again DRAIN_RETRY_SECONDS later at the earliest. Returns the
    partitions created."""
    global _drain_after  # noqa: PLW0603 (a per-process pause between tries)
    if time.monotonic() < _drain_after:
        return []
    created = event_partitions_drain(lock_timeout=DRAIN_LOCK_TIMEOUT, wait=False).created
    if not created:
        _drain_after = time.monotonic() + DRAIN_RETRY_SECONDS
    return created


def _partition_create(
    cursor: CursorWrapper, name: str, lo: datetime, hi: datetime, *, columns: str
) -> None:
    # Fixed names only in the SQL text (PARENT, DEFAULT, a name built from a datetime);
    # the bounds are parameters.
    execute = cursor.execute
    where = '"timestamp" >= %s AND "timestamp" < %s'
    execute(f"SELECT EXISTS (SELECT 1 FROM {DEFAULT} WHERE {where})", [lo, hi])  # noqa: S608
    strays = bool(cursor.fetchone()[0])
    if strays:
        execute(f"CREATE TEMP TABLE {name}_moving (LIKE {PARENT}) ON COMMIT DROP")
        execute(
            f"WITH moved AS (DELETE FROM {DEFAULT} WHERE {where} RETURNING {columns}) "  # noqa: S608
            f"INSERT INTO {name}_moving ({columns}) SELECT {columns} FROM moved",
            [lo, hi],
        )
    execute(
        f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF {PARENT} FOR VALUES FROM (%s) TO (%s)",
        [lo, hi],
    )
    if strays:
        execute(f"INSERT INTO {PARENT} ({columns}) SELECT {columns} FROM {name}_moving")  # noqa: S608
        execute(f"DROP TABLE {name}_moving")


def event_partitions_maintain(
    *, now: datetime | None = None, using: str = "default", lock_timeout: str | None = LOCK_TIMEOUT
) -> list[str]:
    """The current month's partition and the next AHEAD months', and the past months DEFAULT
    holds enough of (`event_partitions_drain`); returns those created."""
    return event_partitions_upkeep(now=now, using=using, lock_timeout=lock_timeout).created


def event_partitions_upkeep(
    *,
    now: datetime | None = None,
    using: str = "default",
    lock_timeout: str | None = LOCK_TIMEOUT,
    whole: bool = False,
) -> Drained:
    """`event_partitions_maintain`, saying also which months it left in DEFAULT for their
    size (`whole`: none, every month is moved; `manage.py events_partitions`)."""
    month = month_start(now or timezone.now())
    created = event_partitions_ensure(
        month, month_add(month, AHEAD), using=using, lock_timeout=lock_timeout
    )
    drained = event_partitions_drain(now=now, using=using, lock_timeout=lock_timeout, whole=whole)
    drained.created = created + drained.created
    return drained


@dataclass
class Retention:
    """What one retention run removed."""

    cutoff: datetime
    partitions: list[str] = field(default_factory=list)
    events: int = 0
    keys: int = 0
    lead_ids: set[int] = field(default_factory=set)  # queued for scoring


def events_retention_apply(
    *, months: int, now: datetime | None = None, lock_timeout: str | None = LOCK_TIMEOUT
) -> Retention:
    """Remove events older than the `months` whole months before the current one: their
    monthly partitions are detached and dropped, the DEFAULT partition loses its rows before
    the cutoff, and their keys go too. The leads that had such events are queued for scoring
    (a score is a function of the stored events). `months=0` keeps only the current month."""
    if months < 0:
        raise ValueError("months must be 0 or more")
    cutoff = month_add(month_start(now or timezone.now()), -months)
    result = Retention(cutoff=cutoff)
    if not events_partitioned():
        _retention_plain(result)
        return result
    partitions_drop_before(result, lock_timeout=lock_timeout)
    _default_trim(result)
    return result


def partitions_drop_before(result: Retention, *, lock_timeout: str | None = LOCK_TIMEOUT) -> None:
    """Detach and drop every monthly partition that ends at or before `result.cutoff` (with
    its keys; its leads queued for scoring). Rows of a month the cutoff falls in stay: the
    caller deletes them (`mqlapp.leads.retention`) or the cutoff is a month's first instant."""
    cutoff = result.cutoff
    conn = connections["default"]
    for name, month in sorted(event_partitions().items(), key=lambda item: item[1]):
        if month_add(month, 1) > cutoff:
            continue
        # Detaching takes the table's lock for a moment; the work on the rows happens on the
        # detached table, which no insert or read reaches any more.
        with transaction.atomic(), conn.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK])
            if lock_timeout:
                cursor.execute("SELECT set_config('lock_timeout', %s, true)", [lock_timeout])
            cursor.execute(f"ALTER TABLE {PARENT} DETACH PARTITION {name}")
        _detached_drop(name, result)
    for name in _detached_leftovers(cutoff):  # a run that stopped between detach and drop
        _detached_drop(name, result)


def _detached_leftovers(cutoff: datetime) -> list[str]:
    with connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_class WHERE relkind = 'r' AND NOT relispartition "
            "AND relname ~ %s AND pg_table_is_visible(oid)",
            [_NAME.pattern],
        )
        names = [name for (name,) in cursor.fetchall()]
    return sorted(
        name for name in names if (m := _month_of(name)) is not None and month_add(m, 1) <= cutoff
    )


def leads_queue(lead_ids: list[int], result: Retention) -> None:
    """Queue for scoring the leads that lost events (a score follows the stored events)."""
    for start in range(0, len(lead_ids), _CHUNK):
        with transaction.atomic():
            hooks.leads_changed(lead_ids[start : start + _CHUNK])
    result.lead_ids.update(lead_ids)


def _detached_drop(name: str, result: Retention) -> None:
    with connections["default"].cursor() as cursor:
        cursor.execute(f"SELECT DISTINCT lead_id FROM {name} WHERE lead_id IS NOT NULL")  # noqa: S608
        lead_ids = sorted(lead_id for (lead_id,) in cursor.fetchall())
    with transaction.atomic(), connections["default"].cursor() as cursor:
        cursor.execute(f"DELETE FROM {KEYS} k USING {name} e WHERE k.message_id = e.message_id")  # noqa: S608
        result.keys += cursor.rowcount
        cursor.execute(f"SELECT count(*) FROM {name}")  # noqa: S608
        result.events += cursor.fetchone()[0]
        cursor.execute(f"DROP TABLE {name}")
    result.partitions.append(name)
    leads_queue(lead_ids, result)


def _default_trim(result: Retention) -> None:
    """Old strays in the DEFAULT partition are removed row by row (it is meant to stay small)."""
    with transaction.atomic(), connections["default"].cursor() as cursor:
        cursor.execute(
            f'WITH gone AS (DELETE FROM {DEFAULT} WHERE "timestamp" < %s '  # noqa: S608
            "RETURNING message_id, lead_id), "
            f"keys AS (DELETE FROM {KEYS} k USING gone WHERE k.message_id = gone.message_id "
            "RETURNING 1) "
            "SELECT (SELECT count(*) FROM gone), (SELECT count(*) FROM keys), "
            "ARRAY(SELECT DISTINCT lead_id FROM gone WHERE lead_id IS NOT NULL ORDER BY 1)",
            [result.cutoff],
        )
        events, keys, lead_ids = cursor.fetchone()
    result.events += events
    result.keys += keys
    leads_queue(list(lead_ids), result)


def _retention_plain(result: Retention) -> None:
    """No partitions (SQLite): delete the old rows."""
    with transaction.atomic():
        old = Event.objects.filter(timestamp__lt=result.cutoff)
        lead_ids = sorted(
            set(old.filter(lead_id__isnull=False).values_list("lead_id", flat=True).distinct())
        )
        keys, _ = EventKey.objects.filter(timestamp__lt=result.cutoff).delete()
        result.events, _ = old.delete()
        result.keys = keys
    leads_queue(lead_ids, result)
