"""Merge two leads that turned out to be one person, and record what the merged one held."""

from typing import Any

from django.db import transaction
from django.utils import timezone

from ..models import PROFILE_FIELDS, Event, Identity, Lead, LeadMerge, ScoreQueue, Stage
from ..services import leads_score_enqueue

MERGED_FIELDS = ("email", "external_id", *PROFILE_FIELDS)


def _snapshot(lead: Lead) -> dict[str, Any]:
    data: dict[str, Any] = {name: getattr(lead, name) for name in MERGED_FIELDS}
    data.update(
        traits=lead.traits,
        source=lead.source_id,
        stage=lead.stage,
        owner=lead.owner_id,
        score=str(lead.score),
        mql_at=lead.mql_at.isoformat() if lead.mql_at else None,
        created_at=lead.created_at.isoformat() if lead.created_at else None,
    )
    return data


def survivor_choose(a: Lead, b: Lead) -> tuple[Lead, Lead]:
    """Keep the lead sales already works (stage past nurturing), else the older one."""
    ranked = sorted((a, b), key=lambda lead: (lead.stage == Stage.NURTURING, lead.pk))
    return ranked[0], ranked[1]


@transaction.atomic
def lead_merge(a_id: int, b_id: int, *, reason: str, message_id: str = "") -> tuple[int, int]:
    """Move the duplicate's events and ids onto the survivor, fill its blanks, record, delete.

    Returns (survivor id, merged-away id). Rows other apps keep about the merged-away lead
    (its score history, its stage history) go with it; its stage, owner and score are kept in
    the LeadMerge record.
    """
    # The outbox rows first, before the lead rows: a scoring worker that claimed one of them
    # finishes before we lock its lead, rather than waiting for us while we wait for it.
    leads_score_enqueue([a_id, b_id])
    leads = {lead.pk: lead for lead in Lead.objects.select_for_update().filter(pk__in=[a_id, b_id])}
    if len(leads) < 2:  # one was merged or erased meanwhile: the other simply stays
        kept = next(iter(leads), a_id)
        return kept, b_id if kept == a_id else a_id
    into, duplicate = survivor_choose(leads[a_id], leads[b_id])
    moved = Event.objects.filter(lead=duplicate).update(lead=into)
    Identity.objects.filter(lead=duplicate).update(lead=into)
    for name in MERGED_FIELDS:
        if name != "email" and getattr(into, name) in ("", None):
            setattr(into, name, getattr(duplicate, name))
    into.traits = {**duplicate.traits, **into.traits}
    if duplicate.last_activity_at and (
        into.last_activity_at is None or into.last_activity_at < duplicate.last_activity_at
    ):
        into.last_activity_at = duplicate.last_activity_at
    LeadMerge.objects.create(
        into=into,
        merged_lead_id=duplicate.pk,
        merged_email=duplicate.email,
        merged_data=_snapshot(duplicate),
        reason=reason,
        message_id=message_id,
        events_moved=moved,
        at=timezone.now(),
    )
    email, duplicate_id = duplicate.email, duplicate.pk
    ScoreQueue.objects.filter(lead=duplicate).delete()
    duplicate.delete()
    if not into.email and email:
        into.email = email
    into.save()
    return into.pk, duplicate_id
