"""Celery entry points of the core app: CSV import jobs (ids in, one service call)."""

from datetime import timedelta

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

from .ingest import imports
from .models import ImportJob

TRANSIENT = (ConnectionError, OperationalError)

BEAT = {
    "import-sweep": {"task": "mqlapp.leads.tasks.imports_sweep", "schedule": timedelta(minutes=1)},
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
