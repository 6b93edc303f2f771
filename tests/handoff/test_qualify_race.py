"""Qualification exactly once when two callers race on one lead: the second waits for the
first's row lock and, once it is released, finds the lead already an MQL (docs/handoff.md)."""

import threading
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone

from handoff.models import LeadLifecycle, Qualification, StageTransition
from handoff.services import mql_qualify, policy_get
from tests.conftest import requires_postgres, wait_for
from tests.factories import lead_make


@requires_postgres  # row locks, and pg_locks to see the second caller wait
@pytest.mark.django_db(transaction=True)
def test_a_caller_that_waited_for_the_row_lock_does_not_qualify_the_lead_again():
    lead = lead_make(email="race@example.co.jp", score=80)
    policy = policy_get()  # stored first: the callers must meet at the lead's row, not here
    pids: list[int] = []
    results: list[object] = []

    def second() -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                pids.append(cursor.fetchone()[0])
            results.append(
                mql_qualify(
                    lead.pk,
                    score=Decimal(80),
                    reason="threshold",
                    now=timezone.now(),
                    policy=policy,
                )
            )
        except BaseException as exc:  # noqa: BLE001 (handed to the test below)
            results.append(exc)
        finally:
            connection.close()

    def waiting(pid: int) -> bool:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT EXISTS(SELECT 1 FROM pg_locks WHERE pid = %s AND NOT granted)", [pid]
            )
            return bool(cursor.fetchone()[0])

    thread = threading.Thread(target=second)
    # given: the first caller has moved the lead and holds its row, not yet committed
    with transaction.atomic():
        assert mql_qualify(
            lead.pk, score=Decimal(80), reason="threshold", now=timezone.now(), policy=policy
        )
        # when: a second caller tries meanwhile, and waits for the row
        thread.start()
        wait_for(lambda: pids and waiting(pids[0]), timeout=30, every=0.05)
    # (the first commits here)
    thread.join(30)

    # then: the second moved nothing; one transition, one qualification, cycle 1
    assert results == [False]
    assert LeadLifecycle.objects.get(lead_id=lead.pk).cycle == 1
    assert Qualification.objects.filter(lead_id=lead.pk).count() == 1
    assert StageTransition.objects.filter(lead_id=lead.pk, to_stage="mql").count() == 1
