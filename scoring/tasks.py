"""Celery entry points of scoring: run a re-score job, resume stalled ones."""

import logging
from datetime import timedelta

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

from mqlapp.leads.services import task_kick

from . import services

log = logging.getLogger(__name__)
TRANSIENT = (ConnectionError, OperationalError)

BEAT: dict[str, dict[str, object]] = {
    "scoring-rescore-sweep": {
        "task": "scoring.tasks.rescore_sweep",
        "schedule": timedelta(minutes=1),
    },
}


@shared_task(
    name="scoring.tasks.rescore_run",
    acks_late=True,
    autoretry_for=TRANSIENT,
    retry_backoff=True,
    max_retries=5,
)
def rescore_run(job_id: int) -> str:
    """Run a re-score job to its end; a retry or a second delivery resumes it."""
    try:
        return services.rescore_run(job_id)
    except TRANSIENT:
        raise
    except Exception as exc:
        log.exception("re-score job %s failed", job_id)
        services.rescore_fail(job_id, error=f"{type(exc).__name__}: {exc}", now=timezone.now())
        return "failed"


@shared_task(name="scoring.tasks.rescore_sweep", acks_late=True)
def rescore_sweep() -> int:
    """Every minute: a job whose task was lost (broker down, worker killed) is resumed."""
    stalled = services.rescore_jobs_stalled(now=timezone.now())
    for job_id in stalled:
        task_kick("scoring.tasks.rescore_run", job_id)
    return len(stalled)
