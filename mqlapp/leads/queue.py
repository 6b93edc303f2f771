"""An append-only queue of lead ids, the one mechanism behind "leads to score" (scoring) and
"scores changed" (handoff): each app keeps its own queue table, built on this.

A writer appends rows in its own transaction, never upserting: it never waits on a row a
worker holds, and a worker cannot see (so cannot claim) a row before the writer commits.
Workers claim rows with SKIP LOCKED, so any number drain one queue without taking the same
row twice; a lead queued twice is simply handled twice, which is harmless because every
consumer is idempotent.
"""

from collections.abc import Callable, Iterable

from django.db import models


class LeadQueue(models.Model):
    id = models.BigAutoField(primary_key=True)
    lead_id = models.BigIntegerField(db_index=True)
    enqueued_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True

    @classmethod
    def append(cls, lead_ids: Iterable[int]) -> list[int]:
        """Queue these leads in the caller's transaction; returns them sorted, once each."""
        ids = sorted(set(lead_ids))
        cls._default_manager.bulk_create([cls(lead_id=i) for i in ids], batch_size=1000)
        return ids

    @classmethod
    def claim(cls, *, limit: int) -> list[int]:
        """Take up to `limit` rows for the caller's transaction (others skip them) and return
        their leads, once each; the rows are gone when the transaction commits."""
        rows = list(
            cls._default_manager.select_for_update(skip_locked=True)
            .order_by("id")
            .values_list("id", "lead_id")[:limit]
        )
        cls._default_manager.filter(id__in=[row_id for row_id, _ in rows]).delete()
        return sorted({lead_id for _, lead_id in rows})


def queue_drain(step: Callable[[], int]) -> int:
    """Run `step` (one batch; returns how many it took) until the queue is empty."""
    total = 0
    while done := step():
        total += done
    return total
