"""Merge two leads that turned out to be one person, record what the merged one held and
which of its rows moved, and undo such a merge."""

from typing import Any

from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from .. import hooks
from ..errors import InvalidTransition, NotFound
from ..models import (
    PROFILE_FIELDS,
    Consent,
    Erasure,
    Event,
    Identity,
    Lead,
    LeadMerge,
    LeadMergeRow,
    Source,
    User,
)
from ..services import TRAIT_STAMP, stamp_newer

MERGED_FIELDS = ("email", "external_id", *PROFILE_FIELDS)
ACTIVITY_TYPES = ("track", "page", "screen")
CHUNK = 5000
Table = LeadMergeRow.Table
MOVED_MODELS: dict[str, type[Event] | type[Identity] | type[Consent]] = {
    Table.EVENT: Event,
    Table.IDENTITY: Identity,
    Table.CONSENT: Consent,
}


def _snapshot(lead: Lead) -> dict[str, Any]:
    data: dict[str, Any] = {name: getattr(lead, name) for name in MERGED_FIELDS}
    data.update(
        traits=lead.traits,
        source=lead.source_id,
        created_at=lead.created_at.isoformat() if lead.created_at else None,
    )
    return data


def _data_merge(into: Lead, duplicate: Lead) -> dict[str, Any]:
    """Each field keeps the later data of the two (their stamps, services.lead_apply), else
    the survivor's; a blank is filled from the duplicate. Returns what the survivor had before
    in each field and trait it took, for an undo (`_survivor_give_back`)."""
    ours, theirs = dict(into.field_stamps or {}), duplicate.field_stamps or {}
    fields: dict[str, Any] = {}
    for name in MERGED_FIELDS:
        value = getattr(duplicate, name)
        if name == "email" or value in ("", None):
            continue
        if getattr(into, name) in ("", None) or stamp_newer(theirs.get(name), ours.get(name)):
            if getattr(into, name) != value:
                fields[name] = getattr(into, name)
            setattr(into, name, value)
            ours[name] = theirs.get(name)
    traits = dict(into.traits or {})
    added: list[str] = []
    replaced: dict[str, Any] = {}
    for key, value in (duplicate.traits or {}).items():
        name = TRAIT_STAMP + key
        if key not in traits or stamp_newer(theirs.get(name), ours.get(name)):
            if key not in traits:
                added.append(key)
            elif traits[key] != value:
                replaced[key] = traits[key]
            traits[key] = value
            ours[name] = theirs.get(name)
    into.traits = traits
    into.field_stamps = {k: v for k, v in ours.items() if v}
    return {"fields": fields, "traits": added, "traits_replaced": replaced}


def survivor_choose(a: Lead, b: Lead) -> tuple[Lead, Lead]:
    """Keep the lead an app prefers (handoff: the one sales already works), else the older."""
    preferred = hooks.lead_merge_prefer(a.pk, b.pk)
    if preferred == b.pk or (preferred is None and b.pk < a.pk):
        return b, a
    return a, b


def _rows_moved(duplicate: Lead, into: Lead) -> tuple[int, list[tuple[str, int]]]:
    """Move the duplicate's events, ids and consents onto the survivor; return the events
    moved and every (table, row id) moved, for an undo. The duplicate is locked FOR UPDATE,
    so no event can be added to it meanwhile."""
    rows: list[tuple[str, int]] = []
    for table, model in MOVED_MODELS.items():
        ids = list(model.objects.filter(lead=duplicate).values_list("pk", flat=True))
        rows += [(table, pk) for pk in ids]
    moved = Event.objects.filter(lead=duplicate).update(lead=into)
    Identity.objects.filter(lead=duplicate).update(lead=into)
    Consent.objects.filter(lead=duplicate).update(lead=into)
    return moved, rows


@transaction.atomic
def lead_merge(a_id: int, b_id: int, *, reason: str, message_id: str = "") -> tuple[int, int]:
    """Move the duplicate's events and ids onto the survivor, fill its blanks, record, delete.

    Returns (survivor id, merged-away id). The duplicate's consents move with its events;
    every other app moves its own rows through the `lead_merged` hook before the duplicate
    is deleted (handoff keeps both leads' sales history; docs/architecture.md). The record
    keeps what `lead_merge_undo` needs to give the duplicate back.
    """
    leads = {lead.pk: lead for lead in Lead.objects.select_for_update().filter(pk__in=[a_id, b_id])}
    if len(leads) < len({a_id, b_id}):  # one was merged or erased meanwhile: the other stays
        kept = next(iter(leads), a_id)
        return kept, b_id if kept == a_id else a_id
    into, duplicate = survivor_choose(leads[a_id], leads[b_id])
    moved, rows = _rows_moved(duplicate, into)
    filled = _data_merge(into, duplicate)
    held = hooks.lead_merged(into=into.pk, duplicate=duplicate.pk)
    if duplicate.last_activity_at and (
        into.last_activity_at is None or into.last_activity_at < duplicate.last_activity_at
    ):
        into.last_activity_at = duplicate.last_activity_at
    email, duplicate_id = duplicate.email, duplicate.pk
    if not into.email and email:
        filled["fields"]["email"] = ""
    record = LeadMerge.objects.create(
        into=into,
        merged_lead_id=duplicate.pk,
        merged_email=duplicate.email,
        merged_data={**_snapshot(duplicate), **held},
        reason=reason,
        message_id=message_id,
        events_moved=moved,
        at=timezone.now(),
        survivor_filled=filled,
    )
    LeadMergeRow.objects.bulk_create(
        [LeadMergeRow(merge=record, table=table, row_id=pk) for table, pk in rows],
        batch_size=CHUNK,
    )
    duplicate.delete()
    if not into.email and email:
        into.email = email
    into.save()
    hooks.leads_changed([into.pk])
    return into.pk, duplicate_id


def merge_undone(message_id: str) -> bool:
    """Whether an admin undid the merge this alias made (an SDK retry of it must not redo it)."""
    return (
        bool(message_id)
        and LeadMerge.objects.filter(message_id=message_id, undone_at__isnull=False).exists()
    )


@transaction.atomic
def lead_merge_undo(merge_id: int, *, by: User | None) -> LeadMerge:
    """Give the merged-away lead back: its own data, events, ids and consents (wherever they
    are now), and every app's rows through the `lead_unmerged` hook; the survivor gives back
    the blanks it filled from it. Both are re-scored. Raises InvalidTransition (409) when it
    cannot be done, saying why."""
    merge = LeadMerge.objects.select_for_update().filter(pk=merge_id).first()
    if merge is None:
        raise NotFound(f"no merge {merge_id}")
    _undo_check(merge)
    data = merge.merged_data
    survivor = None
    if merge.into_id is not None:
        survivor = Lead.objects.select_for_update().filter(pk=merge.into_id).first()
    if survivor is not None:
        _survivor_give_back(survivor, merge)
    email = str(data.get("email") or "")
    holder = Lead.objects.filter(email=email).exclude(email="").values_list("pk", flat=True)
    if holder:
        raise InvalidTransition(
            f"the email {email} now belongs to lead {holder[0]}: merge or erase that lead first",
            lead=holder[0],
        )
    restored = _lead_restore(merge)
    losers = _rows_return(merge, restored)
    if survivor is not None:
        losers.add(survivor.pk)
    hooks.leads_created([restored.pk])
    hooks.lead_unmerged(into=merge.into_id, restored=restored.pk, held=data)
    _activity_recompute([restored.pk, *losers])
    merge.undone_at, merge.undone_by = timezone.now(), by
    merge.save(update_fields=["undone_at", "undone_by"])
    hooks.leads_changed([restored.pk, *losers])
    return merge


def _undo_check(merge: LeadMerge) -> None:
    if merge.undone_at is not None:
        raise InvalidTransition(f"merge {merge.pk} was already undone", undone_at=merge.undone_at)
    if not merge.merged_data:
        raise InvalidTransition(
            f"merge {merge.pk} cannot be undone: its record was erased with the person's data"
        )
    if not merge.survivor_filled:  # no rows recorded: the undo would bring back an empty lead
        raise InvalidTransition(
            f"merge {merge.pk} was recorded before merges could be undone (its moved rows "
            "are not known)"
        )
    if merge.into_id and Erasure.objects.filter(lead_id=merge.into_id).exists():
        raise InvalidTransition(
            f"merge {merge.pk} cannot be undone: lead {merge.into_id} was erased"
        )
    if Lead.objects.filter(pk=merge.merged_lead_id).exists():
        raise InvalidTransition(f"lead {merge.merged_lead_id} exists already")


def _survivor_give_back(survivor: Lead, merge: LeadMerge) -> None:
    """What the survivor took from the duplicate goes back to what it was, if still unchanged."""
    data, filled = merge.merged_data, merge.survivor_filled
    for name, before in (filled.get("fields") or {}).items():
        if getattr(survivor, name) == data.get(name):
            setattr(survivor, name, before)
    theirs = data.get("traits") or {}
    for key in filled.get("traits") or []:
        if key in survivor.traits and survivor.traits[key] == theirs.get(key):
            del survivor.traits[key]
    for key, before in (filled.get("traits_replaced") or {}).items():
        if key in survivor.traits and survivor.traits[key] == theirs.get(key):
            survivor.traits[key] = before
    survivor.save()


def _lead_restore(merge: LeadMerge) -> Lead:
    """The merged-away lead again, under its own id, with the data it had when merged."""
    data = merge.merged_data
    source_id = data.get("source")
    if source_id and not Source.objects.filter(pk=source_id).exists():
        source_id = None
    lead = Lead.objects.create(
        pk=merge.merged_lead_id,
        source_id=source_id,
        traits=data.get("traits") or {},
        **{name: data.get(name) for name in MERGED_FIELDS if data.get(name) is not None},
    )
    if data.get("created_at"):
        Lead.objects.filter(pk=lead.pk).update(created_at=data["created_at"])
    return lead


def _rows_return(merge: LeadMerge, restored: Lead) -> set[int]:
    """Move the recorded rows back, and the events the duplicate's own ids sent to the
    survivor since; return the leads that gave rows back."""
    losers: set[int] = set()
    for table, model in MOVED_MODELS.items():
        ids = list(merge.rows.filter(table=table).values_list("row_id", flat=True))
        for start in range(0, len(ids), CHUNK):
            rows = model.objects.filter(pk__in=ids[start : start + CHUNK])
            losers.update(rows.exclude(lead=restored).values_list("lead_id", flat=True))
            rows.update(lead=restored)
    own: dict[str, list[str]] = {"anonymous": [], "user": []}
    for kind, value in Identity.objects.filter(lead=restored).values_list("kind", "value"):
        own[kind].append(value)
    if losers and (own["anonymous"] or own["user"]):
        later = Event.objects.filter(lead_id__in=losers, received_at__gte=merge.at).filter(
            Q(anonymous_id__in=own["anonymous"]) | Q(user_id__in=own["user"])
        )
        later.exclude(type="alias").update(lead=restored)
    losers.discard(restored.pk)
    losers.discard(None)  # type: ignore[arg-type]
    return losers


def _activity_recompute(lead_ids: list[int]) -> None:
    rows = (
        Event.objects.filter(lead_id__in=lead_ids, type__in=ACTIVITY_TYPES)
        .values("lead_id")
        .annotate(at=Max("timestamp"))
    )
    latest = {row["lead_id"]: row["at"] for row in rows}
    for pk in lead_ids:
        Lead.objects.filter(pk=pk).update(last_activity_at=latest.get(pk))
