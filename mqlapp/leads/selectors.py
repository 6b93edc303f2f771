"""Reads of the core domain."""

from django.db.models import QuerySet

from .models import Event, Lead


def lead_events(lead: Lead) -> QuerySet[Event]:
    return lead.events.order_by("-timestamp", "-id")
