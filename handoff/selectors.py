"""Handoff reads: the queue a user may see, a lead's stage history."""

from django.db.models import F, QuerySet

from mqlapp.models import Lead, Stage, User
from mqlapp.roles import ADMIN, user_role

from .models import StageTransition


def queue_for(user: User) -> QuerySet[Lead]:
    """Sales: their own and unassigned MQLs; admin: all MQLs; by SLA due time, then score."""
    rows = Lead.objects.filter(stage=Stage.MQL)
    if user_role(user) != ADMIN:
        rows = rows.filter(owner__isnull=True) | rows.filter(owner=user)
    return rows.order_by(F("sla_due_at").asc(nulls_last=True), "-score", "id")


def lead_history(lead: Lead) -> QuerySet[StageTransition]:
    return lead.transitions.select_related("by").order_by("at", "id")
