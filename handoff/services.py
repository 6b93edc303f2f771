"""Handoff writes: the policy, qualification exactly once per cycle, assignment, queue actions."""

import logging
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from mqlapp.leads.errors import InvalidInput, InvalidTransition, NotFound, PermissionDenied
from mqlapp.leads.models import User
from mqlapp.leads.parsing import INT_MAX, day_parse, decimal_fits
from mqlapp.leads.roles import ADMIN, SALES, user_role
from mqlapp.leads.services import task_kick
from scoring import engine
from scoring.engine.conditions import as_number
from scoring.models import LeadScore
from scoring.services import lead_epoch_move

from .assignment import assignment_record
from .lifecycle import (
    ASSIGNABLE_STAGES,
    EVENT_FOR_MOVE,
    NEEDS_REASON,
    OWNED_STAGES,
    REASONS,
    Stage,
    transition_target,
)
from .models import Assignment, LeadLifecycle, MqlPolicy, StageTransition
from .webhooks import webhooks_enqueue_many

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
    number = as_number(value)
    if number is None:
        raise InvalidInput(f"{name} must be a number", fields={name: ["not a number"]})
    if minimum is not None and number < minimum:
        raise InvalidInput(f"{name} must be at least {minimum}", fields={name: ["too small"]})
    column = MqlPolicy._meta.get_field(name)
    places = column.decimal_places  # type: ignore[union-attr]
    if not decimal_fits(number, max_digits=column.max_digits, decimal_places=places):  # type: ignore[union-attr]
        largest = Decimal(10) ** (column.max_digits - places) - 1  # type: ignore[union-attr]
        raise InvalidInput(f"{name} must be less than {largest}", fields={name: ["too large"]})
    return number


def _sla_hours(data: Mapping[str, Any]) -> Decimal:
    hours = _decimal(data, "sla_hours", minimum=Decimal(0))
    if hours is None or hours <= 0:
        raise InvalidInput("sla_hours must be more than 0", fields={"sla_hours": ["too small"]})
    return hours


def _event_names(data: Mapping[str, Any], name: str) -> list[str]:
    events = data[name]
    if not isinstance(events, list) or not all(isinstance(e, str) and e for e in events):
        raise InvalidInput(
            f"{name} must be a list of event names", fields={name: ["a list of strings"]}
        )
    return events


@transaction.atomic
def policy_update(*, data: Mapping[str, Any]) -> MqlPolicy:
    policy = MqlPolicy.objects.select_for_update().get(pk=policy_get().pk)
    old_threshold, old_min_fit = policy.mql_threshold, policy.min_fit
    if "mql_threshold" in data:
        policy.mql_threshold = _decimal(data, "mql_threshold")  # type: ignore[assignment]
    if "min_fit" in data:
        policy.min_fit = _decimal(data, "min_fit", nullable=True)
    if "sla_hours" in data:
        policy.sla_hours = _sla_hours(data)
    if "fast_track_events" in data:
        policy.fast_track_events = _event_names(data, "fast_track_events")
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
        if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= INT_MAX:
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
        qualify_eligible_later()
    return policy


def qualify_eligible_later() -> None:
    """After commit, qualify the nurturing leads whose stored score passes (the policy
    loosened, or a rule change went live)."""
    from .tasks import leads_qualify_eligible as task  # noqa: PLC0415 (tasks import this module)

    transaction.on_commit(lambda: task_kick(task.name))


# --- qualification -------------------------------------------------------------------------


def mql_passes(score: Decimal, fit: Decimal, policy: MqlPolicy) -> bool:
    """The MQL test under this policy (the engine's one definition)."""
    return engine.passes(score, fit, threshold=policy.mql_threshold, min_fit=policy.min_fit)


def _score_of(lead_id: int) -> Decimal:
    return LeadScore.objects.filter(lead_id=lead_id).values_list("score", flat=True).first() or (
        Decimal(0)
    )


def mql_qualify(
    lead_id: int, *, score: Decimal, reason: str, now: datetime, policy: MqlPolicy | None = None
) -> bool:
    """nurturing → mql for one lead, exactly once per cycle; True when this call made the move
    (`handoff.qualify.mql_qualify_many` with one lead)."""
    from .qualify import mql_qualify_many  # noqa: PLC0415 (qualify imports this module)

    moved = mql_qualify_many(
        [lead_id], scores={lead_id: score}, reasons={lead_id: reason}, now=now, policy=policy
    )
    return bool(moved)


def transition_record(
    life: LeadLifecycle,
    *,
    action: str,
    from_stage: str,
    now: datetime,
    score: Decimal,
    by: User | None = None,
    reason: str = "",
    note: str = "",
) -> StageTransition:
    """Keep the stage change and queue its webhook, in the caller's transaction."""
    rows = transitions_record(
        [life],
        action=action,
        from_stage=from_stage,
        now=now,
        scores={life.lead_id: score},
        reasons={life.lead_id: reason},
        by=by,
        note=note,
    )
    return rows[0]


def transitions_record(
    lives: Sequence[LeadLifecycle],
    *,
    action: str,
    from_stage: str,
    now: datetime,
    scores: Mapping[int, Decimal],
    reasons: Mapping[int, str],
    by: User | None = None,
    note: str = "",
) -> list[StageTransition]:
    """The same stage change of many leads (each its own score and reason): the history rows
    in one insert and their webhooks in one go (`webhooks_enqueue_many`), in the caller's
    transaction."""
    rows = StageTransition.objects.bulk_create(
        [
            StageTransition(
                lead_id=life.lead_id,
                from_stage=from_stage,
                to_stage=life.stage,
                at=now,
                by=by,
                reason=reasons.get(life.lead_id, ""),
                note=note,
                score=scores[life.lead_id],
                cycle=life.cycle,
            )
            for life in lives
        ]
    )
    event = EVENT_FOR_MOVE.get(action)
    if event:
        extras: dict[int, dict[str, Any]] = {
            life.lead_id: {
                "previous_stage": from_stage,
                "reason": reasons.get(life.lead_id, ""),
                "note": note,
                "cycle": life.cycle,
                "by": by.username if by else None,
                "sla_due_at": life.sla_due_at,
                "reapproach_on": life.reapproach_on,
            }
            for life in lives
        }
        webhooks_enqueue_many(extras, event_type=event, now=now)
    return rows


_ELIGIBLE_BATCH = 500  # leads per transaction


def leads_qualify_eligible(*, now: datetime | None = None) -> int:
    """After the policy loosened: qualify nurturing leads whose stored score now passes."""
    now = now or timezone.now()
    policy = policy_get()
    # The threshold narrows the scan; the MQL test itself decides.
    rows = LeadScore.objects.filter(
        lead__lifecycle__stage=Stage.NURTURING, score__gte=policy.mql_threshold
    )
    count = 0
    batch: dict[int, Decimal] = {}
    for pk, score, fit in (
        rows.order_by("lead_id").values_list("lead_id", "score", "fit").iterator(_ELIGIBLE_BATCH)
    ):
        if mql_passes(score, fit, policy):
            batch[pk] = score
        if len(batch) == _ELIGIBLE_BATCH:
            count += _threshold_qualify(batch, now=now, policy=policy)
            batch = {}
    return count + _threshold_qualify(batch, now=now, policy=policy)


def _threshold_qualify(scores: Mapping[int, Decimal], *, now: datetime, policy: MqlPolicy) -> int:
    from .qualify import mql_qualify_many  # noqa: PLC0415 (qualify imports this module)

    reasons = dict.fromkeys(scores, "threshold")
    moved = mql_qualify_many(scores, scores=scores, reasons=reasons, now=now, policy=policy)
    return len(moved)


# --- queue actions ----------------------------------------------------------------------------


def _text(data: Mapping[str, Any], name: str, limit: int) -> str:
    value = data.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be text", fields={name: ["not text"]})
    if len(value) > limit:
        raise InvalidInput(f"{name} is longer than {limit} characters", fields={name: ["too long"]})
    return value.strip()


@transaction.atomic
def queue_action(
    lead_id: int, action: str, *, user: User, data: Mapping[str, Any], now: datetime | None = None
) -> LeadLifecycle:
    """Apply a sales action: 403 on another rep's lead, 409 where the stage does not allow it,
    400 for a reason outside the list."""
    now = now or timezone.now()
    lead = (
        LeadLifecycle.objects.select_for_update(of=("self",))
        .select_related("lead", "owner")
        .filter(lead_id=lead_id)
        .first()
    )
    if lead is None:
        raise NotFound("No such lead.")
    role = user_role(user)
    if role not in (SALES, ADMIN):
        raise PermissionDenied("Only sales reps and admins work the queue.")
    _may_work(lead, user=user, role=role)
    if action == "claim" and role == ADMIN and lead.stage in ASSIGNABLE_STAGES:
        target: str | None = lead.stage  # an admin gives a lead in sales' hands to a rep
    else:
        target = transition_target(action, lead.stage)
    if target is None:
        raise InvalidTransition(
            f"cannot {action} a lead in stage '{lead.stage}'", stage=lead.stage, action=action
        )
    reason = _text(data, "reason", 50)
    note = _text(data, "note", 2000)
    if (action in NEEDS_REASON or reason) and reason not in REASONS:
        raise InvalidInput(
            f"reason must be one of {', '.join(REASONS)}",
            fields={"reason": ["required" if not reason else f"unknown reason {reason!r}"]},
        )
    if action == "claim":
        return _claim(lead, user=user, role=role, data=data, now=now)
    if lead.owner_id is None and (role == SALES or target in OWNED_STAGES):
        # Whoever works an unassigned lead owns it; an admin who accepts one (or moves an
        # ownerless lead further) takes it too, so no lead is in sales' hands without an owner.
        assignment_record(lead, user=user, why=Assignment.Why.ACCEPT, now=now, notify=False)
    from_stage = lead.stage
    lead.stage = target
    fields = ["stage", "updated_at"]
    if action == "recycle":
        lead.reapproach_on = _reapproach_date(data, now=now)
        fields += ["reapproach_on"]
        lead_epoch_move(lead_id, at=now)  # scoring's: engagement counts from now on
    lead.save(update_fields=fields)
    transition_record(
        lead,
        action=action,
        from_stage=from_stage,
        now=now,
        score=_score_of(lead_id),
        by=user,
        reason=reason,
        note=note,
    )
    return lead


def _may_work(lead: LeadLifecycle, *, user: User, role: str) -> None:
    """Object-level check: admins work any lead; a rep works their own leads and the shared
    pool (unassigned MQLs). A lead in sales' hands without an owner (its owner's account was
    deleted) waits for an admin: no rep may pick it up by acting on it. (Unowned leads in
    other stages fall through to the stage check: 409.)"""
    if role == ADMIN or lead.owner_id == user.pk:
        return
    if lead.owner_id is not None:
        raise PermissionDenied("This lead belongs to another sales rep.")
    if lead.stage in OWNED_STAGES:
        raise PermissionDenied(
            "This lead has no owner; an admin must give it to a sales rep (claim with owner)."
        )


def _claim(
    lead: LeadLifecycle, *, user: User, role: str, data: Mapping[str, Any], now: datetime
) -> LeadLifecycle:
    """A rep takes an unassigned MQL; an admin may give any MQL to a rep (`owner`)."""
    target_id = data.get("owner")
    if target_id is not None and role != ADMIN:
        raise PermissionDenied("Only admins may assign a lead to someone else.")
    if target_id is not None:
        valid = isinstance(target_id, int) and not isinstance(target_id, bool)
        rep = (
            User.objects.filter(pk=target_id, groups__name=SALES, is_active=True).first()
            if valid and abs(target_id) <= INT_MAX
            else None
        )
        if rep is None:
            raise InvalidInput("owner must be the id of a sales rep", fields={"owner": ["unknown"]})
        if lead.owner_id == rep.pk:
            raise InvalidTransition(f"this lead is already {rep.username}'s", stage=lead.stage)
        assignment_record(lead, user=rep, why=Assignment.Why.ADMIN, now=now, by=user)
        return lead
    if lead.owner_id is not None:
        owner = lead.owner.username if lead.owner else ""
        raise InvalidTransition(f"this lead is already claimed by {owner}", stage=lead.stage)
    assignment_record(lead, user=user, why=Assignment.Why.CLAIM, now=now, by=user, notify=False)
    return lead


def _reapproach_date(data: Mapping[str, Any], *, now: datetime) -> date:
    value = data.get("reapproach_on")
    if not value:
        return timezone.localtime(now).date() + timedelta(days=policy_get().default_recycle_days)
    day = day_parse(value) if isinstance(value, str) else None
    if day is None:
        raise InvalidInput(
            "reapproach_on must be a date, YYYY-MM-DD", fields={"reapproach_on": ["not a date"]}
        )
    # A date already past is due at once: the next re-approach check (every minute) returns
    # the lead to nurturing. Refusing it would trip on time zones (today in UTC is yesterday
    # in Tokyo for nine hours a day).
    return day


# --- time-based: re-approach and SLA -----------------------------------------------------------


def leads_reapproach_due(*, now: datetime | None = None) -> int:
    """recycled → nurturing for leads whose re-approach date has come (idempotent)."""
    now = now or timezone.now()
    today = timezone.localtime(now).date()
    ids = list(
        LeadLifecycle.objects.filter(stage=Stage.RECYCLED, reapproach_on__lte=today)
        .order_by("lead_id")
        .values_list("lead_id", flat=True)[:5000]
    )
    moved = 0
    for pk in ids:
        with transaction.atomic():
            life = (
                LeadLifecycle.objects.select_for_update()
                .filter(lead_id=pk, stage=Stage.RECYCLED, reapproach_on__lte=today)
                .first()
            )
            if life is None:
                continue
            life.stage = Stage.NURTURING
            life.save(update_fields=["stage", "updated_at"])
            transition_record(
                life,
                action="reapproach",
                from_stage=Stage.RECYCLED,
                now=now,
                score=_score_of(pk),
                reason="reapproach",
            )
            # Activity since the recycle (or a fast-track event) may qualify it again.
            from .qualify import qualify_enqueue  # noqa: PLC0415 (qualify imports this module)

            qualify_enqueue([pk])
            moved += 1
    return moved
