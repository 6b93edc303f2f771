"""Celery entry points of the core app: CSV import jobs (ids in, one service call) and the
events table's monthly partitions."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import OperationalError
from django.utils import timezone

from . import event_partitions, retention
from .ingest import imports, inbox
from .models import ImportJob

TRANSIENT = (ConnectionError, OperationalError)

BEAT = {
    # Large batches a lost kick or a killed worker left in the inbox (ingest.inbox).
    "inbox-sweep": {"task": "mqlapp.leads.tasks.inbox_sweep", "schedule": timedelta(seconds=15)},
    "import-sweep": {"task": "mqlapp.leads.tasks.imports_sweep", "schedule": timedelta(minutes=1)},
    # Hourly, not monthly: a beat that restarts often still runs it, and a run that found its
    # lock busy (LOCK_TIMEOUT) is retried within the hour. Most runs create nothing.
    "event-partitions": {
        "task": "mqlapp.leads.tasks.event_partitions_maintain",
        "schedule": timedelta(hours=1),
    },
    # Hourly: each run deletes about an hour's worth past the cutoff (the first run, the
    # whole backlog, a chunk per transaction). Does nothing without the settings.
    "retention": {"task": "mqlapp.leads.tasks.retention_apply", "schedule": timedelta(hours=1)},
}


@shared_task(
    name="mqlapp.leads.tasks.lead_import_run",
    acks_late=True,
    autoretry_for=TRANSIENT,
    retry_backoff=True,
    max_retries=5,
)
def lead_import_run(job_id: int) -> None:
    """Import a CSV job's remaining rows; a redelivered run resumes where the last stopped."""
    imports.lead_import_run(job_id)


@shared_task(
    name="mqlapp.leads.tasks.inbox_expand",
    acks_late=True,
    autoretry_for=TRANSIENT,
    retry_backoff=True,
    max_retries=5,
)
def inbox_expand() -> int:
    """Store the events of the large batches waiting in the inbox; safe to run many at once.
    A run takes at most a minute and then hands the rest to a new one (ingest.inbox)."""
    return inbox.inbox_expand(seconds=60)


@shared_task(name="mqlapp.leads.tasks.inbox_sweep", acks_late=True)
def inbox_sweep() -> int:
    """Every 15 s: expand what a lost kick or a killed worker left (rows are durable)."""
    return inbox.inbox_sweep(seconds=60)


@shared_task(name="mqlapp.leads.tasks.imports_sweep", acks_late=True)
def imports_sweep() -> int:
    """Every minute: start jobs still queued (their task was lost while the broker was down)."""
    stale = timezone.now() - timedelta(minutes=1)
    ids = list(
        ImportJob.objects.filter(status=ImportJob.Status.QUEUED, created_at__lt=stale).values_list(
            "pk", flat=True
        )
    )
    for job_id in ids:
        imports.lead_import_run(job_id)
    return len(ids)


@shared_task(name="mqlapp.leads.tasks.event_partitions_maintain", acks_late=True)
def event_partitions_maintain() -> dict[str, list[str]]:
    """Hourly: this month's and the next months' event partitions exist (PostgreSQL; nothing
    on SQLite); with EVENT_RETENTION_MONTHS set, the months before it are dropped."""
    done = {"created": event_partitions.event_partitions_maintain(), "dropped": []}
    months = settings.EVENT_RETENTION_MONTHS
    if months is not None:
        done["dropped"] = event_partitions.events_retention_apply(months=months).partitions
    return done


@shared_task(
    name="mqlapp.leads.tasks.retention_apply",
    acks_late=True,
    autoretry_for=TRANSIENT,
    retry_backoff=True,
    max_retries=3,
)
def retention_apply() -> dict[str, int | None]:
    """Hourly: EVENT_RETENTION_DAYS and VISITOR_RETENTION_DAYS, when set (idempotent: a
    redelivered run finds less or nothing to delete)."""
    done: dict[str, int | None] = {"events": None, "visitors": None, "visitor_events": None}
    days = settings.EVENT_RETENTION_DAYS
    if days is not None:
        done["events"] = retention.events_retention_days_apply(days=days).events
    visitor_days = settings.VISITOR_RETENTION_DAYS
    if visitor_days is not None:
        visitors = retention.visitors_retention_apply(days=visitor_days)
        done["visitors"], done["visitor_events"] = visitors.visitors, visitors.removed.events
    return done
