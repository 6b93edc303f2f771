"""The SLA: an MQL not accepted or rejected in time is a breach; admins hear once, may reassign."""

from datetime import datetime

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from mqlapp.leads.services import task_kick

from .assignment import assignee_next, assignment_record
from .lifecycle import overdue_q, sla_due
from .models import Assignment, LeadLifecycle, SlaBreach
from .services import policy_get


def mql_sla_sweep(*, now: datetime | None = None) -> int:
    """Record each MQL past its due time once; with reassign_on_breach, hand it to the next rep.

    Idempotent: a breach is unique per (lead, cycle, due time) and written under the lead's
    row lock, so overlapping sweeps record it once. A reassignment restarts the clock for
    the new rep, so their own lateness is a new breach.
    """
    now = now or timezone.now()
    breached = SlaBreach.objects.filter(
        lead_id=OuterRef("lead_id"),
        cycle=OuterRef("cycle"),
        due_at=OuterRef("sla_due_at"),
        merged_from__isnull=True,
    )
    ids = list(
        LeadLifecycle.objects.filter(overdue_q(now))
        .exclude(Exists(breached))
        .order_by("sla_due_at", "lead_id")
        .values_list("lead_id", flat=True)[:2000]
    )
    count = 0
    for pk in ids:
        count += _breach(pk, now=now)
    return count


@transaction.atomic
def _breach(lead_id: int, *, now: datetime) -> bool:
    lead = (
        LeadLifecycle.objects.select_for_update(of=("self",))
        .select_related("lead")
        .filter(overdue_q(now), lead_id=lead_id)
        .first()
    )
    if lead is None or lead.sla_due_at is None:
        return False
    if SlaBreach.objects.filter(
        lead_id=lead_id, cycle=lead.cycle, due_at=lead.sla_due_at, merged_from__isnull=True
    ).exists():
        return False
    policy = policy_get()
    breach = SlaBreach.objects.create(
        lead_id=lead_id, cycle=lead.cycle, due_at=lead.sla_due_at, at=now, owner_id=lead.owner_id
    )
    if policy.reassign_on_breach:
        exclude = [lead.owner_id] if lead.owner_id else []
        rep = assignee_next(lead.lead, exclude=exclude)
        if rep is not None:
            assignment_record(lead, user=rep, why=Assignment.Why.SLA_BREACH, now=now)
            lead.sla_due_at = sla_due(now, hours=policy.sla_hours)
            lead.save(update_fields=["sla_due_at", "updated_at"])
            breach.reassigned_to = rep
            breach.save(update_fields=["reassigned_to"])
    transaction.on_commit(lambda: task_kick("handoff.tasks.sla_breach_notify", breach.pk))
    return True
