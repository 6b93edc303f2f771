"""The SLA: an MQL not accepted or rejected in time is a breach; admins hear once, may reassign."""

from datetime import datetime

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from mqlapp.leads.models import Lead, Stage
from mqlapp.leads.services import task_kick

from .assignment import assignee_next, assignment_record
from .models import Assignment, SlaBreach
from .services import policy_get, sla_due


def mql_sla_sweep(*, now: datetime | None = None) -> int:
    """Record each MQL past its due time once; with reassign_on_breach, hand it to the next rep.

    Idempotent: a breach is unique per (lead, cycle, due time) and written under the lead's
    row lock, so overlapping sweeps record it once. A reassignment restarts the clock for
    the new rep, so their own lateness is a new breach.
    """
    now = now or timezone.now()
    breached = SlaBreach.objects.filter(
        lead_id=OuterRef("pk"), cycle=OuterRef("cycle"), due_at=OuterRef("sla_due_at")
    )
    ids = list(
        Lead.objects.filter(stage=Stage.MQL, sla_due_at__lte=now)
        .exclude(Exists(breached))
        .order_by("sla_due_at", "pk")
        .values_list("pk", flat=True)[:2000]
    )
    count = 0
    for pk in ids:
        count += _breach(pk, now=now)
    return count


@transaction.atomic
def _breach(lead_id: int, *, now: datetime) -> bool:
    lead = (
        Lead.objects.select_for_update()
        .filter(pk=lead_id, stage=Stage.MQL, sla_due_at__lte=now)
        .first()
    )
    if lead is None or lead.sla_due_at is None:
        return False
    if SlaBreach.objects.filter(lead=lead, cycle=lead.cycle, due_at=lead.sla_due_at).exists():
        return False
    policy = policy_get()
    breach = SlaBreach.objects.create(
        lead=lead, cycle=lead.cycle, due_at=lead.sla_due_at, at=now, owner_id=lead.owner_id
    )
    if policy.reassign_on_breach:
        exclude = [lead.owner_id] if lead.owner_id else []
        rep = assignee_next(lead, exclude=exclude)
        if rep is not None:
            assignment_record(lead, user=rep, why=Assignment.Why.SLA_BREACH, now=now)
            lead.sla_due_at = sla_due(now, policy)
            lead.save(update_fields=["sla_due_at", "updated_at"])
            breach.reassigned_to = rep
            breach.save(update_fields=["reassigned_to"])
    transaction.on_commit(lambda: task_kick("handoff.tasks.sla_breach_notify", breach.pk))
    return True
