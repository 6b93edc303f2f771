"""The published rule set and the one a re-score job builds: read FOR SHARE, swapped FOR UPDATE."""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import connection, transaction

from .. import engine
from ..models import RescoreJob, ScoringRule, ScoringState

RULE_FIELDS = (
    "name",
    "kind",
    "event",
    "conditions",
    "points",
    "max_times",
    "window_days",
    "half_life_days",
    "expire_after_days",
    "after_event",
    "watch_events",
    "inactive_days",
    "active",
)


@dataclass(frozen=True)
class RuleSets:
    """What a scoring batch applies: the live rules and, while a job builds, the job's rules."""

    version: int
    live: tuple[engine.Rule, ...]
    building_job: int | None = None
    building: tuple[engine.Rule, ...] = ()


def rule_as_dict(rule: ScoringRule) -> dict[str, Any]:
    return {name: getattr(rule, name) for name in RULE_FIELDS}


def _json_ready(value: Any) -> Any:
    # Decimals as text keep every digit; the engine reads numeric text exactly.
    return str(value) if isinstance(value, Decimal) else value


def rules_snapshot() -> list[dict[str, Any]]:
    """The active rules as JSON-ready dicts with their ids (what a job applies)."""
    rows = ScoringRule.objects.filter(active=True).order_by("id")
    return [
        {"id": rule.pk, **{k: _json_ready(v) for k, v in rule_as_dict(rule).items()}}
        for rule in rows
    ]


def rules_parse(snapshot: Iterable[Mapping[str, Any]]) -> tuple[engine.Rule, ...]:
    return tuple(engine.parse_rule(item, rule_id=int(item["id"])) for item in snapshot)


def state_get() -> ScoringState:
    """The state row; the first call publishes the active rules as they are."""
    state = ScoringState.objects.filter(pk=1).first()
    if state is not None:
        return state
    with transaction.atomic():
        state, _ = ScoringState.objects.get_or_create(pk=1, defaults={"rules": rules_snapshot()})
    return state


def state_lock() -> ScoringState:
    """Lock the state row FOR UPDATE: no scoring batch runs until the transaction ends."""
    state_get()
    return ScoringState.objects.select_for_update().get(pk=1)


def _state_share_lock() -> None:
    # Django has no FOR SHARE; SQLite serialises writers anyway.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT id FROM scoring_scoringstate WHERE id = 1 FOR SHARE")


def rule_sets_for_scoring() -> RuleSets:
    """The rule sets for a scoring batch; call inside its transaction (holds a share lock)."""
    state_get()
    _state_share_lock()
    state = ScoringState.objects.get(pk=1)
    building: Sequence[Mapping[str, Any]] = ()
    if state.building_job_id is not None:
        building = (
            RescoreJob.objects.filter(pk=state.building_job_id)
            .values_list("rules", flat=True)
            .first()
        ) or ()
    return RuleSets(
        version=state.version,
        live=rules_parse(state.rules),
        building_job=state.building_job_id,
        building=rules_parse(building),
    )


def rules_live() -> tuple[int, tuple[engine.Rule, ...]]:
    """The published version and rules (what stored scores reflect); reads only."""
    state = ScoringState.objects.filter(pk=1).values_list("version", "rules").first()
    if state is None:  # nothing published yet: what state_get() would publish
        return 0, rules_parse(rules_snapshot())
    return state[0], rules_parse(state[1])


def scores_refreshed(*, at: datetime) -> None:
    """Record that every lead was re-evaluated at `at` (answers report it as `as_of`)."""
    state_get()
    ScoringState.objects.filter(pk=1).update(refreshed_at=at)
