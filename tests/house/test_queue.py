"""The append-only lead queues (mqlapp/leads/queue.py): a claim takes a lead once, with every
other row queued for it that no one holds, so a backlog does not make a worker handle the same
lead once per request that announced it; rows another worker holds are left to that worker."""

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.db.models import F

from handoff.models import QualifyQueue
from mqlapp.leads.queue import queue_drain
from scoring.models import ScoreQueue
from tests.conftest import requires_postgres
from tests.holding import held_elsewhere


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("queue", [ScoreQueue, QualifyQueue])
def test_a_claim_takes_a_lead_once_with_all_its_queued_rows(queue):
    for ids in ([1, 2], [1], [3, 1], [2]):  # four requests, lead 1 announced three times
        with transaction.atomic():
            queue.append(ids)
    assert queue.objects.count() == 6

    with transaction.atomic():
        assert queue.claim(limit=1) == [1]
    # lead 1's later rows went with the first one; 2 and 3 wait for the next claim
    assert sorted(queue.objects.values_list("lead_id", flat=True)) == [2, 2, 3]
    with transaction.atomic():
        assert queue.claim(limit=10) == [2, 3]
    assert not queue.objects.exists()


@requires_postgres  # SKIP LOCKED is PostgreSQL's
@pytest.mark.django_db(transaction=True)
def test_rows_another_worker_holds_are_skipped_not_taken():
    with transaction.atomic():
        ScoreQueue.append([7])
    with transaction.atomic():
        ScoreQueue.append([7, 8])
    claimed: list[list[int]] = []

    # the other worker takes the first row, lead 7 (and its twin), then crashes: its rows
    # come back
    with held_elsewhere(lambda: claimed.append(ScoreQueue.claim(limit=1))), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '1s'")
        # lead 7's rows are both held by the other worker: only lead 8 is free
        assert ScoreQueue.claim(limit=10) == [8]
    assert claimed == [[7]]
    # the other worker rolled back: lead 7 is still queued (twice), nothing was lost
    assert sorted(ScoreQueue.objects.values_list("lead_id", flat=True)) == [7, 7]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("queue", [ScoreQueue, QualifyQueue])
def test_leads_a_back_fill_queued_wait_behind_those_live_traffic_queued(queue):
    # given: an import queued leads 1-3 first, then a visitor's event queued lead 9
    with transaction.atomic():
        queue.append([1, 2, 3], bulk=True)
    with transaction.atomic():
        queue.append([9])

    # when / then: the visitor's lead comes first, then the back-fill's in order
    with transaction.atomic():
        assert queue.claim(limit=1) == [9]
    with transaction.atomic():
        assert queue.claim(limit=2) == [1, 2]
    with transaction.atomic():
        assert queue.claim(limit=2) == [3]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("queue", [ScoreQueue, QualifyQueue])
def test_a_batch_is_live_or_back_fill_never_both_and_the_back_fill_takes_smaller_ones(queue):
    """A visitor's event waits at most for one back-fill batch (`bulk_limit`), then goes in a
    batch of live leads only, not behind hundreds of back-fill leads in its own batch."""
    with transaction.atomic():
        queue.append(range(1, 8), bulk=True)
    with transaction.atomic():
        queue.append([20, 21])

    with transaction.atomic():
        assert queue.claim(limit=5, bulk_limit=2) == [20, 21]  # live only, though 5 fit
    with transaction.atomic():
        assert queue.claim(limit=5, bulk_limit=2) == [1, 2]  # none live: 2 of the back-fill
    with transaction.atomic():
        queue.append([30])
    with transaction.atomic():
        assert queue.claim(limit=5, bulk_limit=2) == [30]
    with transaction.atomic():
        assert queue.claim(limit=5) == [3, 4, 5, 6, 7]  # bulk_limit defaults to limit


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("queue", [ScoreQueue, QualifyQueue])
def test_a_steady_trickle_of_live_traffic_does_not_starve_the_back_fill(queue):
    """The drain alternates which kind a batch tries first: a live lead arriving before every
    claim still leaves every other batch to the back-fill, not none of them."""
    with transaction.atomic():
        queue.append([1, 2, 3, 4], bulk=True)
    claims: list[list[int]] = []

    def step(bulk_first: bool) -> int:
        if len(claims) < 10:  # a visitor's event before every claim, ten times
            with transaction.atomic():
                queue.append([100 + len(claims)])
        with transaction.atomic():
            ids = queue.claim(limit=5, bulk_limit=2, bulk_first=bulk_first)
        claims.append(ids)
        return len(ids)

    queue_drain(step)

    assert claims[:4] == [[100], [1, 2], [101, 102], [3, 4]]  # while the visitors keep coming
    assert sorted(i for ids in claims for i in ids) == [1, 2, 3, 4, *range(100, 110)]
    assert not queue.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("queue", [ScoreQueue, QualifyQueue])
def test_a_back_fill_row_waits_to_settle_unless_a_live_row_takes_its_lead(queue):
    """`bulk_settle`: a back-fill's lead is handled once it has waited, so the batches of it
    that arrive meanwhile are handled together; a live row of the same lead takes it at once."""
    with transaction.atomic():
        queue.append([1, 2], bulk=True)
    with transaction.atomic():
        assert queue.claim(limit=5, bulk_settle=60) == []  # queued just now
    with transaction.atomic():
        queue.append([2])  # a visitor's event for lead 2
    with transaction.atomic():
        assert queue.claim(limit=5, bulk_settle=60) == [2]  # with its back-fill row
    assert list(queue.objects.values_list("lead_id", flat=True)) == [1]

    queue.objects.update(enqueued_at=F("enqueued_at") - timedelta(seconds=61))
    with transaction.atomic():
        assert queue.claim(limit=5, bulk_settle=60) == [1]
    assert not queue.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("queue", [ScoreQueue, QualifyQueue])
def test_a_back_fill_is_taken_in_full_batches_or_once_its_first_row_waited(queue):
    """`bulk_least`: back-fill rows arriving a few at a time are taken `bulk_least` at a
    time, not in as many small batches as arrive; live rows never wait for that."""
    with transaction.atomic():
        queue.append([1, 2, 3], bulk=True)
    with transaction.atomic():
        queue.append([9])
    with transaction.atomic():
        # the live lead comes at once, and says it is live
        assert queue.claim_batch(limit=5, bulk_least=4, bulk_wait=60) == ([9], False)
    with transaction.atomic():
        assert queue.claim_batch(limit=5, bulk_least=4, bulk_wait=60) == ([], False)
    with transaction.atomic():
        queue.append([4], bulk=True)
    with transaction.atomic():
        assert queue.claim_batch(limit=5, bulk_least=4, bulk_wait=60) == ([1, 2, 3, 4], True)

    with transaction.atomic():
        queue.append([5], bulk=True)
    with transaction.atomic():
        assert queue.claim(limit=5, bulk_least=4, bulk_wait=60) == []
    queue.objects.update(enqueued_at=F("enqueued_at") - timedelta(seconds=61))
    with transaction.atomic():
        assert queue.claim(limit=5, bulk_least=4, bulk_wait=60) == [5]  # waited long enough
    assert not queue.objects.exists()


@requires_postgres  # the held row (FOR KEY SHARE, SKIP LOCKED) is PostgreSQL's
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("queue", [ScoreQueue, QualifyQueue])
def test_a_back_fill_holds_its_leads_waiting_row_instead_of_adding_another(queue):
    for _ in range(5):  # five back-fill batches about the same leads
        with transaction.atomic():
            queue.append([1, 2], bulk=True)
    assert sorted(queue.objects.values_list("lead_id", flat=True)) == [1, 2]
    with transaction.atomic():
        queue.append([2], bulk=False)  # live traffic always adds its row
    assert sorted(queue.objects.values_list("lead_id", flat=True)) == [1, 2, 2]


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_a_row_a_back_fill_holds_is_not_claimed_before_it_commits():
    with transaction.atomic():
        ScoreQueue.append([1, 2], bulk=True)

    # another back-fill, not committed yet, wrote lead 2's events and holds its row
    with held_elsewhere(lambda: ScoreQueue.append([2, 3], bulk=True)), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '1s'")
        # a worker takes lead 1 only: lead 2 must wait for that back-fill (its events), and
        # lead 3's row is not committed
        assert ScoreQueue.claim(limit=10) == [1]
    # that back-fill rolled back: lead 2's row is still there, nothing was lost
    assert list(ScoreQueue.objects.values_list("lead_id", flat=True)) == [2]


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_a_back_fill_adds_a_row_for_a_lead_a_worker_holds_without_waiting():
    with transaction.atomic():
        ScoreQueue.append([5], bulk=True)
    claimed: list[list[int]] = []

    # a worker took lead 5's row (and read its events) and has not committed
    with held_elsewhere(lambda: claimed.append(ScoreQueue.claim(limit=10))), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '1s'")  # waiting would fail the test
        ScoreQueue.append([5], bulk=True)  # new events for lead 5: it needs another turn
        assert sorted(ScoreQueue.objects.values_list("lead_id", flat=True)) == [5, 5]
    assert claimed == [[5]]
