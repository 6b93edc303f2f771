"""The lifecycle as pure rules: the stages, which action moves which stage where, the SLA."""

from datetime import datetime, timedelta
from decimal import Decimal

from django.db import models
from django.db.models import Q


class Stage(models.TextChoices):
    NURTURING = "nurturing"
    MQL = "mql"
    SAL = "sal"
    SQL = "sql"
    WON = "won"
    LOST = "lost"
    RECYCLED = "recycled"
    DISQUALIFIED = "disqualified"


# action -> (stages it may start from, stage it leads to); claim keeps the stage.
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "qualify_mql": (frozenset({Stage.NURTURING}), Stage.MQL),
    "claim": (frozenset({Stage.MQL}), Stage.MQL),
    "accept": (frozenset({Stage.MQL}), Stage.SAL),
    "qualify": (frozenset({Stage.SAL}), Stage.SQL),
    "win": (frozenset({Stage.SQL}), Stage.WON),
    "lose": (frozenset({Stage.SQL}), Stage.LOST),
    "reject": (frozenset({Stage.MQL, Stage.SAL}), Stage.DISQUALIFIED),
    "recycle": (frozenset({Stage.MQL, Stage.SAL, Stage.SQL, Stage.LOST}), Stage.RECYCLED),
    "reapproach": (frozenset({Stage.RECYCLED}), Stage.NURTURING),
}
# Stages in sales' hands, where a lead always has an owner once someone works it.
OWNED_STAGES = frozenset({Stage.SAL, Stage.SQL, Stage.WON, Stage.LOST})
# Stages where an admin may give a lead to a rep (`claim` with `owner`): the open ones.
ASSIGNABLE_STAGES = frozenset({Stage.MQL, Stage.SAL, Stage.SQL})
QUEUE_ACTIONS = ("claim", "accept", "qualify", "win", "lose", "reject", "recycle")
REASONS = (
    "no_budget",
    "no_authority",
    "no_need",
    "bad_timing",
    "bad_contact_data",
    "competitor",
    "student_or_job_seeker",
    "other",
)


def transition_target(action: str, stage: str) -> str | None:
    """The stage `action` leads to from `stage`, or None when the stage does not allow it."""
    sources, target = TRANSITIONS[action]
    return target if stage in sources else None


def allowed_actions(stage: str, *, owned: bool = False) -> list[str]:
    """The queue actions a lead in `stage` offers; an owned lead cannot be claimed (again)."""
    return [a for a in QUEUE_ACTIONS if stage in TRANSITIONS[a][0] and not (a == "claim" and owned)]


# The webhook event a move into each stage fires (recycled → nurturing fires none).
EVENT_FOR_MOVE: dict[str, str] = {
    "qualify_mql": "lead.mql",
    "accept": "lead.accepted",
    "qualify": "lead.qualified",
    "win": "lead.won",
    "lose": "lead.lost",
    "reject": "lead.rejected",
    "recycle": "lead.recycled",
}
WEBHOOK_EVENTS = tuple(dict.fromkeys(EVENT_FOR_MOVE.values()))
# Actions that need a reason from REASONS.
NEEDS_REASON = frozenset({"reject", "recycle"})


# --- the SLA ---------------------------------------------------------------------------------


def sla_due(now: datetime, *, hours: Decimal | float) -> datetime:
    """When an MQL handed over at `now` must be accepted or rejected by."""
    return now + timedelta(seconds=float(hours) * 3600)


def is_overdue(stage: str, sla_due_at: datetime | None, *, now: datetime) -> bool:
    """An MQL past its due time (only MQLs wait on sales: SPEC §5)."""
    return stage == Stage.MQL and sla_due_at is not None and sla_due_at <= now


def overdue_q(now: datetime, *, prefix: str = "") -> Q:
    """`is_overdue` as a filter on lifecycle rows (`prefix`: the path to them)."""
    return Q(**{f"{prefix}stage": Stage.MQL, f"{prefix}sla_due_at__lte": now})


# Stages past the handover: what "currently MQL or later" counts (the simulator's standing).
HANDED_OVER_STAGES = frozenset({Stage.MQL, Stage.SAL, Stage.SQL, Stage.WON, Stage.LOST})
