"""Celery entry points of the handoff: take ids and plain values, call one service."""

from celery import shared_task
from django.db import OperationalError

from . import services

TRANSIENT = (ConnectionError, OperationalError)

BEAT: dict[str, dict[str, object]] = {}


@shared_task(name="handoff.tasks.leads_qualify_eligible", acks_late=True)
def leads_qualify_eligible() -> int:
    return services.leads_qualify_eligible()


@shared_task(
    name="handoff.tasks.mql_notify",
    acks_late=True,
    autoretry_for=(*TRANSIENT, OSError),
    retry_backoff=True,
    max_retries=5,
)
def mql_notify(lead_id: int, cycle: int) -> None:
    services.mql_notify(lead_id, cycle)
