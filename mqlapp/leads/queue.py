"""An append-only queue of lead ids, the one mechanism behind "leads to score" (scoring) and
"scores changed" (handoff): each app keeps its own queue table, built on this.

A writer appends rows in its own transaction, never upserting: it never waits on a row a
worker holds, and a worker cannot see (so cannot claim) a row before the writer commits.
Workers claim rows with SKIP LOCKED, so any number drain one queue without taking the same
row twice; a lead queued twice is simply handled twice, which is harmless because every
consumer is idempotent. A back-fill's writer adds no row for a lead that already has a
waiting back-fill row: it holds that row instead until it commits (`append`).
"""

from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any, NamedTuple, NotRequired, TypedDict, Unpack

from django.db import connection, models
from django.utils import timezone

from .sqlparams import id_array


class LeadQueue(models.Model):
    id = models.BigAutoField(primary_key=True)
    lead_id = models.BigIntegerField(db_index=True)
    enqueued_at = models.DateTimeField(auto_now_add=True)
    # Queued by a back-fill (a large batch, a CSV import): claimed after the rows live traffic
    # queued, so a visitor's form fill is not scored behind an import of last year's history.
    bulk = models.BooleanField(default=False)

    class Meta:
        abstract = True
        indexes = [models.Index(fields=["bulk", "id"], name="%(app_label)s_%(class)s_claim")]

    @classmethod
    def append(cls, lead_ids: Iterable[int], *, bulk: bool = False) -> list[int]:
        """Queue these leads in the caller's transaction; returns them sorted, once each.

        `bulk` (a back-fill): a lead whose back-fill row is already waiting gets no second
        one; that row is held (FOR KEY SHARE) until the caller commits, so no worker claims
        it meanwhile (a claim takes its rows FOR UPDATE SKIP LOCKED): the worker that takes
        it later reads what the caller wrote. A row a worker holds is skipped, not waited
        for, and the lead gets a new row. A back-fill of 100,000 events for 10,000 leads
        queued 83,840 rows without this, 10,000 with it (docs/benchmarks.md)."""
        ids = sorted(set(lead_ids))
        if ids and connection.vendor == "postgresql":
            # One statement with one array parameter: no per-row ORM work (a batch of 500
            # events queues up to 500 leads on every request).
            table = cls._meta.db_table
            array = id_array(ids)
            with connection.cursor() as cursor:
                if bulk:
                    cursor.execute(
                        f"WITH held AS (SELECT lead_id FROM {table} WHERE bulk "  # noqa: S608 (a model's table name)
                        "AND lead_id = ANY(%s::bigint[]) ORDER BY id FOR KEY SHARE SKIP LOCKED) "
                        f"INSERT INTO {table} (lead_id, enqueued_at, bulk) "
                        "SELECT i, now(), TRUE FROM unnest(%s::bigint[]) AS i "
                        "WHERE i NOT IN (SELECT lead_id FROM held)",
                        [array, array],
                    )
                else:
                    cursor.execute(
                        f"INSERT INTO {table} (lead_id, enqueued_at, bulk) "
                        "SELECT unnest(%s::bigint[]), now(), FALSE",
                        [array],
                    )
        elif ids:
            rows = [cls(lead_id=i, bulk=bulk) for i in ids]
            cls._default_manager.bulk_create(rows, batch_size=1000)
        return ids

    @classmethod
    def claim(cls, **options: Unpack["ClaimOptions"]) -> list[int]:
        """Take up to `limit` rows for the caller's transaction (others skip them) and return
        their leads, once each; the rows are gone when the transaction commits. Live rows
        first, in order; only when none is free, up to `bulk_limit` (default `limit`) of the
        back-fill's (`bulk`); `bulk_first` the other way round (`queue_drain` alternates, so
        a steady trickle of live traffic never starves an import). A batch is never live and
        back-fill at once, so a visitor's event waits at most for one (smaller) back-fill
        batch and then its own, short one.

        The same leads' other rows that no one holds go with them: a lead queued by ten
        requests while the workers were busy is handled once, not ten times. Call it before
        reading what the rows announce (a row is committed with its data, so everything
        those rows announce is visible to the reads that follow).

        `bulk_settle`: a back-fill row is taken only once it has waited this many seconds
        (the same lead's rows still go with any row taken): while a back-fill is still
        arriving, a lead it touches is handled once for many of its batches instead of once
        for each.

        `bulk_least`: back-fill rows are taken only when at least this many wait, or the
        oldest has waited `bulk_wait` seconds: while a back-fill still arrives a few rows at a
        time, it is handled in full batches, not in as many small ones as arrive.
        """
        return cls.claim_batch(**options).leads

    @classmethod
    def claim_batch(
        cls,
        *,
        limit: int,
        bulk_limit: int | None = None,
        bulk_first: bool = False,
        bulk_settle: float = 0,
        bulk_least: int = 0,
        bulk_wait: float = 0,
    ) -> "Claimed":
        """`claim`, and whether the batch is the back-fill's."""
        for bulk in (bulk_first, not bulk_first):
            leads = cls._claim(
                bulk=bulk,
                limit=limit if bulk_limit is None or not bulk else bulk_limit,
                settle=bulk_settle if bulk else 0.0,
                least=(bulk_least, bulk_wait) if bulk and bulk_least > 0 else None,
            )
            if leads:
                return Claimed(leads, bulk)
        return Claimed([], False)

    @classmethod
    def _claim(
        cls, *, bulk: bool, limit: int, settle: float, least: tuple[int, float] | None
    ) -> list[int]:
        if connection.vendor != "postgresql":
            waiting = cls._default_manager.filter(bulk=bulk)
            if settle:
                before = timezone.now() - timedelta(seconds=settle)
                waiting = waiting.filter(enqueued_at__lte=before)
            if least is not None and not cls._enough(waiting, *least):
                return []
            rows = list(
                waiting.select_for_update(skip_locked=True)
                .order_by("id")
                .values_list("id", "lead_id")[:limit]
            )
            leads = sorted({lead_id for _, lead_id in rows})
            # The same leads' other rows go with them (writers take turns on SQLite).
            cls._default_manager.filter(lead_id__in=leads).delete()
            return leads
        table = cls._meta.db_table
        # `= ANY(ARRAY(…))`, not `IN (SELECT …)`: PostgreSQL knows nothing of how many rows a
        # CTE holds and read the whole queue twice per claim (54 ms at 84,000 rows, a drain
        # quadratic in its backlog); an array is looked up in the indexes (5 ms).
        # Rows are in the order they were queued: when the first one has not waited long
        # enough, none has, and the claim ends at once instead of reading every row to find
        # so. The statement's moment, not now() (the transaction's start): a row committed
        # since counts.
        first = f"(SELECT enqueued_at FROM {table} WHERE bulk ORDER BY id LIMIT 1)"  # noqa: S608 (a model's table name)
        conditions = ""
        params: list[Any] = [bulk]
        if settle:
            conditions += (
                f" AND {first} <= statement_timestamp() - make_interval(secs => %s)"
                " AND enqueued_at <= statement_timestamp() - make_interval(secs => %s)"
            )
            params += [settle, settle]
        if least is not None:
            # Counted up to the least, through the claim index: a few hundred entries at most.
            conditions += (
                f" AND ((SELECT count(*) FROM (SELECT 1 FROM {table} WHERE bulk LIMIT %s) AS w)"  # noqa: S608 (a model's table name)
                f" >= %s OR {first} <= statement_timestamp() - make_interval(secs => %s))"
            )
            params += [least[0], least[0], least[1]]
        with connection.cursor() as cursor:
            cursor.execute(
                f"WITH taken AS (SELECT id, lead_id FROM {table} WHERE bulk = %s{conditions} "  # noqa: S608 (a model's table name)
                "ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED), "
                f"same AS (SELECT q.id FROM {table} q WHERE q.lead_id = "
                "ANY(ARRAY(SELECT lead_id FROM taken)) FOR UPDATE SKIP LOCKED) "
                f"DELETE FROM {table} WHERE id = "
                "ANY(ARRAY(SELECT id FROM taken UNION ALL SELECT id FROM same)) RETURNING lead_id",
                [*params, limit],
            )
            return sorted({lead_id for (lead_id,) in cursor.fetchall()})

    @classmethod
    def _enough(cls, waiting: models.QuerySet[Any], least: int, wait: float) -> bool:
        """At least `least` back-fill rows wait, or the oldest has waited `wait` seconds."""
        if waiting.count() >= least:
            return True
        oldest = waiting.order_by("id").values_list("enqueued_at", flat=True).first()
        return oldest is not None and oldest <= timezone.now() - timedelta(seconds=wait)


class ClaimOptions(TypedDict):
    """`LeadQueue.claim`'s arguments (`claim_batch` takes the same)."""

    limit: int
    bulk_limit: NotRequired[int | None]
    bulk_first: NotRequired[bool]
    bulk_settle: NotRequired[float]
    bulk_least: NotRequired[int]
    bulk_wait: NotRequired[float]


class Claimed(NamedTuple):
    """What a claim took: the leads, once each, and whether they are a back-fill's batch."""

    leads: list[int]
    bulk: bool


def queue_drain(step: Callable[[bool], int]) -> int:
    """Run `step(bulk_first)` (one batch; returns how many it took) until the queue is empty,
    `bulk_first` alternating from False: live traffic first, but never more than one live
    batch in a row while the back-fill waits (a step takes either kind when its first is
    empty, so 0 means both are)."""
    total = 0
    bulk_first = False
    while done := step(bulk_first):
        total += done
        bulk_first = not bulk_first
    return total
