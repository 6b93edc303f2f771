"""Rule changes: validate through the engine, save, and ask for a re-score of every lead."""

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.db import transaction

from mqlapp.leads.errors import InvalidInput

from .. import engine
from ..models import ScoringRule
from .rescore import rescore_request
from .state import RULE_FIELDS, rule_as_dict

# Keys an answer carries that a client may send back unchanged; they are ignored.
READ_ONLY_FIELDS = frozenset({"id", "created_at", "updated_at", "rescore"})
# The columns keep two decimals: more would be silently rounded, so say so instead.
_TWO_DECIMALS = ("points", "window_days", "half_life_days", "expire_after_days", "inactive_days")


def _precision_errors(parsed: engine.Rule) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for name in _TWO_DECIMALS:
        value = getattr(parsed, name)
        if isinstance(value, Decimal) and value != value.quantize(Decimal("0.01")):
            errors[name] = [f"use at most 2 decimal places, got {value}"]
    return errors


def _parse(data: Any, *, rule_id: int = 0) -> tuple[engine.Rule | None, dict[str, list[str]]]:
    """The engine rule for API data, and every problem (unknown fields included)."""
    if not isinstance(data, Mapping):
        return None, {"non_field_errors": ["a rule must be a JSON object"]}
    unknown = sorted(str(k) for k in data if k not in RULE_FIELDS and k not in READ_ONLY_FIELDS)
    errors: dict[str, list[str]] = {
        key: [f"unknown field; a rule has {', '.join(RULE_FIELDS)}"] for key in unknown
    }
    parsed = None
    try:
        parsed = engine.parse_rule(data, rule_id=rule_id)
    except engine.RuleInvalid as exc:
        errors.update(exc.errors)
    if parsed is not None:
        errors.update(_precision_errors(parsed))
    return (None if errors else parsed), errors


def rules_draft_parse(items: Any) -> list[engine.Rule]:
    """Draft rules for the simulator (the rules API's JSON, ids optional); InvalidInput
    names each problem as `rules[i].field`."""
    if not isinstance(items, list):
        raise InvalidInput(
            "rules must be a list of rules", fields={"rules": ["must be a list of rules"]}
        )
    parsed: list[engine.Rule] = []
    errors: dict[str, list[str]] = {}
    for index, item in enumerate(items):
        given = item.get("id") if isinstance(item, Mapping) else None
        # Drafts without an id get negative ones: they never collide with a saved rule.
        rule_id = given if isinstance(given, int) and not isinstance(given, bool) else -1 - index
        rule, problems = _parse(item, rule_id=rule_id)
        for key, messages in problems.items():
            errors[f"rules[{index}].{key}"] = messages
        if rule is not None:
            parsed.append(rule)
    if errors:
        raise InvalidInput("A draft rule is not valid.", fields=errors)
    return parsed


def rule_validate(data: Mapping[str, Any]) -> dict[str, Any]:
    """The model fields for `data`, or InvalidInput (400) naming every problem."""
    if not isinstance(data, Mapping):
        raise InvalidInput("A rule must be a JSON object.")
    parsed, errors = _parse(data)
    if errors or parsed is None:
        raise InvalidInput("The rule is not valid.", fields=errors)
    return {
        "name": parsed.name,
        "kind": parsed.kind,
        "event": parsed.event,
        "conditions": [
            {
                "field": c.field,
                "op": c.op,
                "value": list(c.value) if isinstance(c.value, tuple) else c.value,
            }
            for c in parsed.conditions
        ],
        "points": parsed.points,
        "max_times": parsed.max_times,
        "window_days": parsed.window_days,
        "half_life_days": parsed.half_life_days,
        "expire_after_days": parsed.expire_after_days,
        "after_event": parsed.after_event,
        "watch_events": list(parsed.watch_events),
        "inactive_days": parsed.inactive_days,
        "active": parsed.active,
    }


@transaction.atomic
def rule_create(*, data: Mapping[str, Any]) -> ScoringRule:
    """Create a rule; every lead is re-scored in the background (see rescore_request)."""
    rule = ScoringRule.objects.create(**rule_validate(data))
    rescore_request(reason=f"rule {rule.pk} created")
    return rule


@transaction.atomic
def rule_update(rule: ScoringRule, *, data: Mapping[str, Any]) -> ScoringRule:
    """Change a rule (fields not given keep their values); every lead is re-scored."""
    if not isinstance(data, Mapping):
        raise InvalidInput("A rule must be a JSON object.")
    before = rule_as_dict(rule)
    for name, value in rule_validate({**before, **data}).items():
        setattr(rule, name, value)
    if rule_as_dict(rule) == before:
        return rule  # nothing changed: no re-score
    rule.save()
    rescore_request(reason=f"rule {rule.pk} updated")
    return rule


@transaction.atomic
def rule_delete(rule: ScoringRule) -> None:
    """Delete a rule; every lead is re-scored without it."""
    pk = rule.pk
    rule.delete()
    rescore_request(reason=f"rule {pk} deleted")
