"""The published rule set and the one a re-score job builds: read FOR SHARE, swapped FOR UPDATE."""

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import TextField
from django.db.models.functions import Cast

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


def _state_shared() -> tuple[int, int | None, str] | None:
    """The state row's version, building job and rules (JSON text), read under a share lock
    on PostgreSQL (Django has no FOR SHARE; SQLite serialises writers anyway)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT version, building_job_id, rules::text FROM scoring_scoringstate "
                "WHERE id = 1 FOR SHARE"
            )
            row = cursor.fetchone()
        return None if row is None else (row[0], row[1], row[2])
    return (
        ScoringState.objects.filter(pk=1)
        .values_list("version", "building_job_id", Cast("rules", TextField()))
        .first()
    )


# Parsed rule sets by their JSON text: a scoring batch parses a rule set once per change,
# not once per batch.
_parsed: dict[str, tuple[engine.Rule, ...]] = {}
_PARSED_MAX = 8


def _rules_from_text(text: str | None) -> tuple[engine.Rule, ...]:
    if not text:
        return ()
    rules = _parsed.get(text)
    if rules is None:
        rules = rules_parse(json.loads(text) or ())  # as Django reads JSON: exact integers
        if len(_parsed) >= _PARSED_MAX:
            _parsed.clear()
        _parsed[text] = rules
    return rules


def rule_sets_for_scoring() -> RuleSets:
    """The rule sets for a scoring batch; call inside its transaction (holds a share lock)."""
    row = _state_shared()
    if row is None:  # nothing published yet: publish the active rules, then read them
        state_get()
        row = _state_shared()
    if row is None:  # pragma: no cover (state_get created the row)
        raise ScoringState.DoesNotExist
    version, building_job, rules = row
    building = None
    if building_job is not None:
        building = (
            RescoreJob.objects.filter(pk=building_job)
            .values_list(Cast("rules", TextField()), flat=True)
            .first()
        )
    return RuleSets(
        version=version,
        live=_rules_from_text(rules),
        building_job=building_job,
        building=_rules_from_text(building),
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
