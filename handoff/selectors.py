"""Handoff reads: the queue a user may see, stage history, assignments, the re-approach list."""

from django.db.models import F, QuerySet

from mqlapp.leads.models import Lead, Stage, User
from mqlapp.leads.roles import ADMIN, user_role

from .models import Assignment, StageTransition, Webhook, WebhookDelivery


def queue_for(user: User) -> QuerySet[Lead]:
    """Sales: their own and unassigned MQLs; admin: all MQLs; by SLA due time, then score."""
    rows = Lead.objects.filter(stage=Stage.MQL).select_related("owner")
    if user_role(user) != ADMIN:
        rows = rows.filter(owner__isnull=True) | rows.filter(owner=user)
    return rows.order_by(F("sla_due_at").asc(nulls_last=True), "-score", "id")


def lead_history(lead: Lead) -> QuerySet[StageTransition]:
    return lead.transitions.select_related("by").order_by("at", "id")


def lead_assignments(lead: Lead) -> QuerySet[Assignment]:
    return lead.assignments.select_related("user", "by").order_by("at", "id")


def reapproach_list() -> QuerySet[Lead]:
    """Recycled leads whose re-approach date came: back in nurturing, not yet re-qualified."""
    return (
        Lead.objects.filter(stage=Stage.NURTURING, reapproach_on__isnull=False)
        .select_related("owner")
        .order_by("reapproach_on", "-score", "id")
    )


def webhooks_all() -> QuerySet[Webhook]:
    return Webhook.objects.order_by("id")


def webhook_deliveries(webhook: Webhook) -> QuerySet[WebhookDelivery]:
    return webhook.deliveries.prefetch_related("tries").order_by("-created_at", "-id")
