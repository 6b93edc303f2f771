"""Celery entry points of scoring: drain the "leads to score" queue, the hourly refresh, re-score
jobs and their sweep. Task names are the default ones: module path and function name."""

import logging
from datetime import timedelta

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

from mqlapp.leads.queue import queue_drain

from . import services

log = logging.getLogger(__name__)
TRANSIENT = (ConnectionError, OperationalError)
# Leads per scoring transaction: each batch pays a commit and a dozen round trips, so a full
# batch of 500 costs ~5 % less per lead than one of 200 (issue 9); a batch holds its leads'
# score rows for ~0.1–0.2 s.
SCORE_BATCH = 500
# Leads per batch of the back-fill's (a large batch's expansion, a CSV import): smaller, so a
# live event that arrives meanwhile waits for at most ~0.1–0.3 s of it (the claim never mixes
# the two: LeadQueue.claim). 250, not 100: each batch also pays its fixed statements (the
# claim, the rule set, the inbox check, the commit), ~15 % of a 100-lead batch's time.
SCORE_BULK_BATCH = 250

BEAT: dict[str, dict[str, object]] = {
    "score-sweep": {"task": "scoring.tasks.leads_score_pending", "schedule": timedelta(seconds=15)},
    "score-decay": {"task": "scoring.tasks.scores_refresh_all", "schedule": timedelta(hours=1)},
    "scoring-rescore-sweep": {
        "task": "scoring.tasks.rescore_sweep",
        "schedule": timedelta(minutes=1),
    },
}


@shared_task(acks_late=True, autoretry_for=TRANSIENT, retry_backoff=True, max_retries=5)
def leads_score_pending() -> int:
    """Drain the "leads to score" queue in batches; safe to run many at once."""
    return queue_drain(
        lambda bulk_first: services.leads_score_pending(
            limit=SCORE_BATCH, bulk_limit=SCORE_BULK_BATCH, bulk_first=bulk_first
        )
    )


@shared_task(acks_late=True, autoretry_for=TRANSIENT, retry_backoff=True, max_retries=3)
def scores_refresh_all() -> int:
    """Hourly: fading and inactivity change scores without events; re-score every lead."""
    return services.scores_refresh()


@shared_task(
    acks_late=True,
    autoretry_for=TRANSIENT,
    retry_backoff=True,
    max_retries=5,
)
def rescore_run(job_id: int, part: int = 0) -> str:
    """Run a re-score job to its end with the other runners of it (`part` tells them apart);
    a retry or a second delivery resumes it."""
    try:
        return services.rescore_run(job_id)
    except TRANSIENT:
        raise
    except Exception as exc:
        log.exception("re-score job %s failed", job_id)
        services.rescore_fail(job_id, error=f"{type(exc).__name__}: {exc}", now=timezone.now())
        return "failed"


@shared_task(acks_late=True)
def rescore_sweep() -> int:
    """Every minute: a job whose task was lost (broker down, worker killed) is resumed."""
    stalled = services.rescore_jobs_stalled(now=timezone.now())
    for job_id in stalled:
        services.rescore_kick(job_id)
    return len(stalled)
