"""Handoff's rows of a lead follow the lead (the core's hooks): created with it, merged into
the survivor with both leads' sales history kept, scrubbed when the person is erased."""

import json
from typing import Any

from mqlapp.leads.models import User
from mqlapp.leads.privacy import LEAD_PERSONAL

from .lifecycle import Stage
from .models import (
    Assignment,
    LeadLifecycle,
    Qualification,
    SlaBreach,
    StageTransition,
    WebhookAttempt,
    WebhookDelivery,
)

# The rows of a lead's sales history that follow it in a merge (and back in an undo).
MOVED: dict[str, Any] = {
    "transitions": StageTransition,
    "assignments": Assignment,
    "qualifications": Qualification,
    "sla_breaches": SlaBreach,
}


def lifecycle_rows_create(lead_ids: list[int]) -> None:
    LeadLifecycle.objects.bulk_create(
        [LeadLifecycle(lead_id=i) for i in lead_ids], ignore_conflicts=True, batch_size=1000
    )


def merge_prefer(a: int, b: int) -> int | None:
    """Keep the lead sales already works (past nurturing); no preference when both or
    neither are."""
    worked = set(
        LeadLifecycle.objects.filter(lead_id__in=[a, b])
        .exclude(stage=Stage.NURTURING)
        .values_list("lead_id", flat=True)
    )
    return next(iter(worked)) if len(worked) == 1 else None


def lifecycle_merge(*, into: int, duplicate: int) -> dict[str, Any]:
    """Move the duplicate's sales history onto the survivor: stage changes and assignments
    as they are, qualifications and SLA breaches marked as the duplicate's own cycles (they
    do not count against the survivor's). The survivor keeps its own stage and owner; the
    duplicate's, and which rows moved, are returned for the merge record (an undo needs them)."""
    life = LeadLifecycle.objects.filter(lead_id=duplicate).first()
    moved: dict[str, list[int]] = {}
    for name, model in MOVED.items():
        moved[name] = list(model.objects.filter(lead_id=duplicate).values_list("pk", flat=True))
    for name, model in (("qualifications", Qualification), ("sla_breaches", SlaBreach)):
        mine = model.objects.filter(lead_id=duplicate, merged_from__isnull=True)
        moved[f"{name}_marked"] = list(mine.values_list("pk", flat=True))
        mine.update(lead_id=into, merged_from=duplicate)
    for model in MOVED.values():
        model.objects.filter(lead_id=duplicate).update(lead_id=into)
    if life is None:
        return {"handoff_rows": moved}
    return {
        "stage": life.stage,
        "owner": life.owner_id,
        "mql_at": life.mql_at.isoformat() if life.mql_at else None,
        "lifecycle": {
            "cycle": life.cycle,
            "sla_due_at": life.sla_due_at.isoformat() if life.sla_due_at else None,
            "reapproach_on": life.reapproach_on.isoformat() if life.reapproach_on else None,
        },
        "handoff_rows": moved,
    }


def lifecycle_unmerge(*, into: int | None, restored: int, held: dict[str, Any]) -> None:
    """An undone merge: the restored lead gets back its stage, owner and cycle, and the rows
    of its sales history (its qualifications and breaches no longer marked as merged)."""
    moved = held.get("handoff_rows") or {}
    for name, model in MOVED.items():
        model.objects.filter(pk__in=moved.get(name) or []).update(lead_id=restored)
    for name, model in (("qualifications", Qualification), ("sla_breaches", SlaBreach)):
        model.objects.filter(pk__in=moved.get(f"{name}_marked") or []).update(merged_from=None)
    if not held.get("stage"):
        return
    life = held.get("lifecycle") or {}
    owner = held.get("owner")
    LeadLifecycle.objects.filter(lead_id=restored).update(
        stage=held["stage"],
        owner_id=owner if owner and User.objects.filter(pk=owner).exists() else None,
        mql_at=held.get("mql_at"),
        cycle=life.get("cycle", 0),
        sla_due_at=life.get("sla_due_at"),
        reapproach_on=life.get("reapproach_on"),
    )


def _payload_scrub(payload: str, lead_id: int) -> str | None:
    """A webhook body about lead `lead_id` without its personal fields; None if not about it."""
    try:
        body = json.loads(payload)
    except ValueError:
        return None
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict) or data.get("id") != lead_id:
        return None
    for name in (*LEAD_PERSONAL, "traits", "note"):  # the note: a rep's words on the person
        if name in data:
            data[name] = {} if name == "traits" else ""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def sales_data_erase(lead_id: int) -> dict[str, int]:
    """The person's words in handoff's rows: notes on stage changes, webhook bodies."""
    counts = {
        "notes_blanked": StageTransition.objects.filter(lead_id=lead_id)
        .exclude(note="")
        .update(note="")
    }
    webhook_rows: list[int] = []
    for delivery in WebhookDelivery.objects.filter(payload__contains=f'"id":{lead_id},').only(
        "pk", "payload"
    ):
        scrubbed = _payload_scrub(delivery.payload, lead_id)
        if scrubbed is not None:
            WebhookDelivery.objects.filter(pk=delivery.pk).update(payload=scrubbed)
            webhook_rows.append(delivery.pk)
    counts["webhook_payloads_scrubbed"] = len(webhook_rows)
    # What the receiver answered may echo the body it got: the log keeps status and timing.
    counts["webhook_responses_blanked"] = (
        WebhookAttempt.objects.filter(delivery_id__in=webhook_rows)
        .exclude(response_body="")
        .update(response_body="")
    )
    return counts
