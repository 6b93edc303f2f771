"""Celery entry points of the scoring pipeline: drain the outbox, the hourly re-score."""

from datetime import timedelta

from celery import shared_task
from django.db import OperationalError

from . import pipeline

TRANSIENT = (ConnectionError, OperationalError)

BEAT = {
    "score-sweep": {"task": "handoff.tasks.leads_score_pending", "schedule": timedelta(seconds=15)},
    "score-decay": {"task": "handoff.tasks.scores_refresh_all", "schedule": timedelta(hours=1)},
}


@shared_task(
    name="handoff.tasks.leads_score_pending",
    acks_late=True,
    autoretry_for=TRANSIENT,
    retry_backoff=True,
    max_retries=5,
)
def leads_score_pending() -> int:
    """Drain the "leads to score" outbox in batches; safe to run many at once."""
    total = 0
    while True:
        done = pipeline.leads_score_pending(limit=200)
        total += done
        if done == 0:
            return total


@shared_task(
    name="handoff.tasks.scores_refresh_all",
    acks_late=True,
    autoretry_for=TRANSIENT,
    retry_backoff=True,
    max_retries=3,
)
def scores_refresh_all() -> int:
    """Hourly: fading and inactivity change scores without events; re-score every lead."""
    return pipeline.scores_refresh()
