"""Merge two leads that turned out to be one person, and record what the merged one held."""

from typing import Any

from django.db import transaction
from django.utils import timezone

from .. import hooks
from ..models import PROFILE_FIELDS, Consent, Event, Identity, Lead, LeadMerge
from ..services import TRAIT_STAMP, stamp_newer

MERGED_FIELDS = ("email", "external_id", *PROFILE_FIELDS)


def _snapshot(lead: Lead) -> dict[str, Any]:
    data: dict[str, Any] = {name: getattr(lead, name) for name in MERGED_FIELDS}
    data.update(
        traits=lead.traits,
        source=lead.source_id,
        created_at=lead.created_at.isoformat() if lead.created_at else None,
    )
    return data


def _data_merge(into: Lead, duplicate: Lead) -> None:
    """Each field keeps the later data of the two (their stamps, services.lead_apply), else
    the survivor's; a blank is filled from the duplicate."""
    ours, theirs = dict(into.field_stamps or {}), duplicate.field_stamps or {}
    for name in MERGED_FIELDS:
        value = getattr(duplicate, name)
        if name == "email" or value in ("", None):
            continue
        if getattr(into, name) in ("", None) or stamp_newer(theirs.get(name), ours.get(name)):
            setattr(into, name, value)
            ours[name] = theirs.get(name)
    traits = dict(into.traits or {})
    for key, value in (duplicate.traits or {}).items():
        name = TRAIT_STAMP + key
        if key not in traits or stamp_newer(theirs.get(name), ours.get(name)):
            traits[key] = value
            ours[name] = theirs.get(name)
    into.traits = traits
    into.field_stamps = {k: v for k, v in ours.items() if v}


def survivor_choose(a: Lead, b: Lead) -> tuple[Lead, Lead]:
    """Keep the lead an app prefers (handoff: the one sales already works), else the older."""
    preferred = hooks.lead_merge_prefer(a.pk, b.pk)
    if preferred == b.pk or (preferred is None and b.pk < a.pk):
        return b, a
    return a, b


@transaction.atomic
def lead_merge(a_id: int, b_id: int, *, reason: str, message_id: str = "") -> tuple[int, int]:
    """Move the duplicate's events and ids onto the survivor, fill its blanks, record, delete.

    Returns (survivor id, merged-away id). The duplicate's consents move with its events;
    every other app moves its own rows through the `lead_merged` hook before the duplicate
    is deleted (handoff keeps both leads' sales history; docs/architecture.md).
    """
    leads = {lead.pk: lead for lead in Lead.objects.select_for_update().filter(pk__in=[a_id, b_id])}
    if len(leads) < len({a_id, b_id}):  # one was merged or erased meanwhile: the other stays
        kept = next(iter(leads), a_id)
        return kept, b_id if kept == a_id else a_id
    into, duplicate = survivor_choose(leads[a_id], leads[b_id])
    moved = Event.objects.filter(lead=duplicate).update(lead=into)
    Identity.objects.filter(lead=duplicate).update(lead=into)
    Consent.objects.filter(lead=duplicate).update(lead=into)
    _data_merge(into, duplicate)
    held = hooks.lead_merged(into=into.pk, duplicate=duplicate.pk)
    if duplicate.last_activity_at and (
        into.last_activity_at is None or into.last_activity_at < duplicate.last_activity_at
    ):
        into.last_activity_at = duplicate.last_activity_at
    LeadMerge.objects.create(
        into=into,
        merged_lead_id=duplicate.pk,
        merged_email=duplicate.email,
        merged_data={**_snapshot(duplicate), **held},
        reason=reason,
        message_id=message_id,
        events_moved=moved,
        at=timezone.now(),
    )
    email, duplicate_id = duplicate.email, duplicate.pk
    duplicate.delete()
    if not into.email and email:
        into.email = email
    into.save()
    hooks.leads_changed([into.pk])
    return into.pk, duplicate_id
