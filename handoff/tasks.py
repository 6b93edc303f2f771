"""Celery entry points of the handoff: take ids and plain values, call one service."""

from datetime import timedelta

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

from mqlapp.leads.queue import queue_drain

from . import notifications, qualify, services, sla, webhooks

TRANSIENT = (ConnectionError, OperationalError)

# Time-based work scans due rows in the database; every job is idempotent.
BEAT: dict[str, dict[str, object]] = {
    "handoff-qualify-sweep": {
        "task": "handoff.tasks.leads_qualify_pending",
        "schedule": timedelta(seconds=15),
    },
    "handoff-sla": {"task": "handoff.tasks.mql_sla_sweep", "schedule": timedelta(minutes=1)},
    "handoff-reapproach": {
        "task": "handoff.tasks.leads_reapproach_due",
        "schedule": timedelta(minutes=1),
    },
    "handoff-webhooks": {
        "task": "handoff.tasks.webhook_deliveries_due",
        "schedule": timedelta(seconds=15),
    },
    "handoff-notifications": {
        "task": "handoff.tasks.notifications_resend",
        "schedule": timedelta(minutes=1),
    },
}


@shared_task(acks_late=True, autoretry_for=TRANSIENT, retry_backoff=True, max_retries=5)
def leads_qualify_pending() -> int:
    """Drain the "scores changed" queue: qualify what passes, exactly once per cycle."""
    return queue_drain(
        lambda bulk_first: qualify.leads_qualify_pending(limit=500, bulk_first=bulk_first)
    )


@shared_task(acks_late=True)
def leads_qualify_eligible() -> int:
    return services.leads_qualify_eligible()


# A failed send is recorded on the row and tried again by the sweep, a bounded number of
# times (notifications.MAX_ATTEMPTS); only a database outage is retried here.
@shared_task(acks_late=True, autoretry_for=TRANSIENT, retry_backoff=True, max_retries=5)
def assignment_notify(assignment_id: int) -> bool:
    return notifications.assignment_notify(assignment_id)


@shared_task(acks_late=True, autoretry_for=TRANSIENT, retry_backoff=True, max_retries=5)
def sla_breach_notify(breach_id: int) -> bool:
    return notifications.sla_breach_notify(breach_id)


@shared_task(acks_late=True)
def notifications_resend() -> int:
    return notifications.notifications_resend()


@shared_task(acks_late=True)
def mql_sla_sweep() -> int:
    return sla.mql_sla_sweep()


@shared_task(acks_late=True)
def leads_reapproach_due() -> int:
    return services.leads_reapproach_due()


# Short retries are scheduled with a countdown (the first within 30 s); longer ones are
# picked up by the beat sweep from next_attempt_at.
COUNTDOWN_MAX = 60


@shared_task(acks_late=True)
def webhook_deliver(delivery_id: int) -> float | None:
    delay = webhooks.webhook_deliver(delivery_id)
    if (
        delay is not None
        and delay <= COUNTDOWN_MAX
        and not webhook_deliver.app.conf.task_always_eager
    ):
        webhook_deliver.apply_async(args=(delivery_id,), countdown=delay)
    return delay


@shared_task(acks_late=True)
def webhook_deliveries_due() -> int:
    ids = webhooks.deliveries_due(now=timezone.now())
    for pk in ids:
        webhook_deliver.delay(pk)
    return len(ids)
