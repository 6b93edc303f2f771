"""Handoff writes: the policy, qualification exactly once per cycle, assignment, queue actions."""

import logging
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from mqlapp.errors import InvalidInput, InvalidTransition, NotFound, PermissionDenied
from mqlapp.models import Lead, Stage, User
from mqlapp.roles import ADMIN, SALES, user_role
from mqlapp.services import task_kick

from .lifecycle import REASONS, transition_target
from .models import AssignmentCursor, MqlPolicy, Qualification, StageTransition

log = logging.getLogger(__name__)

DEFAULT_FAST_TRACK = ["Demo Requested"]


# --- policy -------------------------------------------------------------------------------


def policy_get() -> MqlPolicy:
    policy, _ = MqlPolicy.objects.get_or_create(
        pk=1, defaults={"fast_track_events": DEFAULT_FAST_TRACK}
    )
    return policy


def _decimal(
    data: Mapping[str, Any], name: str, *, minimum: Decimal | None = None, nullable: bool = False
) -> Decimal | None:
    value = data[name]
    if value is None and nullable:
        return None
    try:
        if isinstance(value, bool):
            raise InvalidOperation
        number = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise InvalidInput(f"{name} must be a number", fields={name: ["not a number"]}) from exc
    if not number.is_finite() or (minimum is not None and number < minimum):
        raise InvalidInput(f"{name} must be at least {minimum}", fields={name: ["too small"]})
    return number


@transaction.atomic
def policy_update(*, data: Mapping[str, Any]) -> MqlPolicy:
    policy = MqlPolicy.objects.select_for_update().get(pk=policy_get().pk)
    old_threshold, old_min_fit = policy.mql_threshold, policy.min_fit
    if "mql_threshold" in data:
        policy.mql_threshold = _decimal(data, "mql_threshold")  # type: ignore[assignment]
    if "min_fit" in data:
        policy.min_fit = _decimal(data, "min_fit", nullable=True)
    if "sla_hours" in data:
        policy.sla_hours = _decimal(data, "sla_hours", minimum=Decimal(0))  # type: ignore[assignment]
    if "fast_track_events" in data:
        events = data["fast_track_events"]
        if not isinstance(events, list) or not all(isinstance(e, str) and e for e in events):
            raise InvalidInput(
                "fast_track_events must be a list of event names",
                fields={"fast_track_events": ["a list of strings"]},
            )
        policy.fast_track_events = events
    if "assignment" in data:
        if data["assignment"] not in MqlPolicy.Assignment.values:
            raise InvalidInput(
                f"assignment must be one of {', '.join(MqlPolicy.Assignment.values)}",
                fields={"assignment": ["unknown"]},
            )
        policy.assignment = data["assignment"]
    if "reassign_on_breach" in data:
        policy.reassign_on_breach = bool(data["reassign_on_breach"])
    if "default_recycle_days" in data:
        days = data["default_recycle_days"]
        if isinstance(days, bool) or not isinstance(days, int) or days < 0:
            raise InvalidInput(
                "default_recycle_days must be a whole number of days",
                fields={"default_recycle_days": ["not a whole number"]},
            )
        policy.default_recycle_days = days
    policy.save()
    looser = policy.mql_threshold < old_threshold or (
        old_min_fit is not None and (policy.min_fit is None or policy.min_fit < old_min_fit)
    )
    if looser:
        transaction.on_commit(lambda: task_kick("handoff.tasks.leads_qualify_eligible"))
    return policy


# --- qualification -------------------------------------------------------------------------


def mql_qualify(
    lead_id: int, *, score: Decimal, reason: str, now: datetime, policy: MqlPolicy | None = None
) -> bool:
    """nurturing → mql, exactly once: a conditional UPDATE decides, the unique cycle proves it."""
    policy = policy or policy_get()
    with transaction.atomic():
        due = now + timedelta(hours=float(policy.sla_hours))
        moved = Lead.objects.filter(pk=lead_id, stage=Stage.NURTURING).update(
            stage=Stage.MQL, mql_at=now, sla_due_at=due, cycle=F("cycle") + 1, owner=None
        )
        if not moved:
            return False
        lead = Lead.objects.get(pk=lead_id)
        owner = assignee_next() if policy.assignment == MqlPolicy.Assignment.ROUND_ROBIN else None
        if owner is not None:
            Lead.objects.filter(pk=lead_id).update(owner=owner)
        Qualification.objects.create(
            lead=lead, cycle=lead.cycle, at=now, score=score, reason=reason, owner=owner
        )
        StageTransition.objects.create(
            lead=lead,
            from_stage=Stage.NURTURING,
            to_stage=Stage.MQL,
            at=now,
            score=score,
            cycle=lead.cycle,
            reason=reason,
        )
        transaction.on_commit(lambda: task_kick("handoff.tasks.mql_notify", lead_id, lead.cycle))
    return True


def assignee_next() -> User | None:
    """The next available sales rep after the last one chosen (round robin, serialised)."""
    AssignmentCursor.objects.get_or_create(pk=1)
    cursor = AssignmentCursor.objects.select_for_update().get(pk=1)
    reps = list(
        User.objects.filter(groups__name=SALES, is_active=True, available=True)
        .order_by("pk")
        .distinct()
    )
    if not reps:
        return None
    last = cursor.last_user_id or 0
    chosen = next((r for r in reps if r.pk > last), reps[0])
    cursor.last_user = chosen
    cursor.save(update_fields=["last_user"])
    return chosen


def leads_qualify_eligible(*, now: datetime | None = None) -> int:
    """After the policy loosened: qualify nurturing leads whose stored score now passes."""
    now = now or timezone.now()
    policy = policy_get()
    rows = Lead.objects.filter(stage=Stage.NURTURING, score__gte=policy.mql_threshold)
    if policy.min_fit is not None:
        rows = rows.filter(fit__gte=policy.min_fit)
    count = 0
    for pk, score in rows.values_list("pk", "score").iterator(500):
        count += mql_qualify(pk, score=score, reason="threshold", now=now, policy=policy)
    return count


def mql_notify(lead_id: int, cycle: int) -> None:
    """Email the rep an MQL was assigned to (once per cycle)."""
    qualification = (
        Qualification.objects.filter(lead_id=lead_id, cycle=cycle)
        .select_related("owner", "lead")
        .first()
    )
    if qualification is None or qualification.owner is None or not qualification.owner.email:
        return
    lead = qualification.lead
    link = f"{settings.APP_BASE_URL}/leads/{lead.pk}/"
    name = " ".join(p for p in (lead.last_name, lead.first_name) if p) or lead.email
    send_mail(
        subject=f"[mqlapp] New MQL: {name} ({lead.company or '-'}) score {qualification.score}",
        message=f"A lead was assigned to you.\n\n{name}\n{lead.company}\n{lead.email}\n"
        f"Score: {qualification.score}\n\n{link}\n",
        from_email=None,
        recipient_list=[qualification.owner.email],
        fail_silently=False,
    )


# --- queue actions ----------------------------------------------------------------------------


@transaction.atomic
def queue_action(
    lead_id: int, action: str, *, user: User, data: Mapping[str, Any], now: datetime | None = None
) -> Lead:
    """Apply a sales action to a lead: 409 for a stage that does not allow it."""
    now = now or timezone.now()
    lead = Lead.objects.select_for_update().filter(pk=lead_id).first()
    if lead is None:
        raise NotFound("No such lead.")
    role = user_role(user)
    target = transition_target(action, lead.stage)
    if target is None:
        raise InvalidTransition(f"cannot {action} a lead in stage '{lead.stage}'", stage=lead.stage)
    if role != ADMIN and lead.owner_id not in (None, user.pk):
        raise PermissionDenied("This lead belongs to another sales rep.")
    reason = str(data.get("reason") or "")
    note = str(data.get("note") or "")
    if action in ("reject", "recycle") and reason not in REASONS:
        raise InvalidInput(
            f"reason must be one of {', '.join(REASONS)}", fields={"reason": ["unknown reason"]}
        )
    if action == "claim" and lead.owner_id is not None:
        raise InvalidTransition("this lead is already claimed", stage=lead.stage)
    if lead.owner_id is None and role == SALES:
        lead.owner = user
    from_stage = lead.stage
    lead.stage = target
    if action == "recycle":
        lead.reapproach_on = _reapproach_date(data, now=now)
        lead.score_epoch = now
    lead.save()
    if action != "claim":
        StageTransition.objects.create(
            lead=lead,
            from_stage=from_stage,
            to_stage=target,
            at=now,
            by=user,
            reason=reason,
            note=note,
            score=lead.score,
            cycle=lead.cycle,
        )
    return lead


def _reapproach_date(data: Mapping[str, Any], *, now: datetime) -> date:
    value = data.get("reapproach_on")
    if not value:
        return (timezone.localtime(now) + timedelta(days=policy_get().default_recycle_days)).date()
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise InvalidInput(
            "reapproach_on must be a date, YYYY-MM-DD", fields={"reapproach_on": ["not a date"]}
        ) from exc
