"""`parse_rule`: validate a rule's API JSON and build a `Rule`, naming every problem."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final

from scoring.engine.conditions import FIT_FIELDS, OP_ORDER, OPS, as_number
from scoring.engine.facts import Condition, Rule

__all__ = ["KINDS", "RuleInvalid", "kind_uses", "parse_rule"]

KINDS: Final = ("behavior", "fit", "inactivity")
_MAX_POINTS: Final = Decimal(1_000_000)
_MAX_DAYS: Final = Decimal(36_500)
_EVENT_PREFIXES: Final = ("properties.", "context.")
_OP_LIST: Final = ", ".join(OP_ORDER)
_FIT_LIST: Final = ", ".join(sorted(FIT_FIELDS))
_ORDERED_OPS: Final = frozenset({"gt", "gte", "lt", "lte"})
_TEXT_OPS: Final = frozenset({"startswith", "endswith"})
# Options that belong to one kind only; any other kind rejects them when given.
_ONLY_FOR: Final = {
    "event": ("behavior",),
    "after_event": ("inactivity",),
    "watch_events": ("inactivity",),
    "inactive_days": ("inactivity",),
    "max_times": ("behavior",),
    "window_days": ("behavior",),
    "half_life_days": ("behavior",),
    "expire_after_days": ("behavior",),
}


def kind_uses(kind: str, option: str) -> bool:
    """Whether a rule of `kind` takes `option` (the editor shows only those; others refuse)."""
    kinds = _ONLY_FOR.get(option)
    return kinds is None or kind in kinds


class RuleInvalid(ValueError):
    """A rule failed validation; `errors` maps each field to messages a person can read."""

    errors: dict[str, list[str]]

    def __init__(self, errors: dict[str, list[str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{key}: {msg}" for key, msgs in errors.items() for msg in msgs))


class _Problems:
    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, key: str, message: str) -> None:
        self.errors.setdefault(key, []).append(message)


def _given(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, str | list | tuple):
        return bool(value.strip() if isinstance(value, str) else value)
    return True


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str | bool) or as_number(value) is not None


def _text(problems: _Problems, data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        problems.add(key, "must be text")
        return None
    return value.strip() or None


def _number(
    problems: _Problems, data: Mapping[str, Any], key: str, *, limit: Decimal, positive: bool
) -> Decimal | None:
    value = data.get(key)
    if value is None or value == "":
        return None
    number = as_number(value)
    if number is None:
        problems.add(key, f"must be a number, got {value!r}")
    elif positive and number <= 0:
        problems.add(key, f"must be greater than 0, got {value!r}")
    elif abs(number) > limit:
        problems.add(key, f"must be at most {limit} in size, got {value!r}")
    else:
        return number
    return None


def _max_times(problems: _Problems, data: Mapping[str, Any]) -> int | None:
    number = _number(problems, data, "max_times", limit=Decimal(10**9), positive=True)
    if number is None:
        return None
    if number != number.to_integral_value():
        problems.add("max_times", f"must be a whole number, got {data['max_times']!r}")
        return None
    return int(number)


def _watch_events(problems: _Problems, data: Mapping[str, Any]) -> tuple[str, ...]:
    value = data.get("watch_events")
    if value is None:
        return ()
    if not isinstance(value, list | tuple):
        problems.add("watch_events", 'must be a list of event names, e.g. ["page"]')
        return ()
    names: list[str] = []
    for index, item in enumerate(value, start=1):
        if isinstance(item, str) and item.strip():
            names.append(item.strip())
        else:
            problems.add("watch_events", f"item {index} must be a non-empty event name")
    return tuple(names)


def _field_problem(field: str, kind: str | None) -> str | None:
    if kind == "fit":
        if field in FIT_FIELDS or _is_path(field, "traits."):
            return None
        return f"field {field!r} is not a lead field; use one of {_FIT_LIST} or traits.<name>"
    if kind in ("behavior", "inactivity"):
        if any(_is_path(field, prefix) for prefix in _EVENT_PREFIXES):
            return None
        return f"field {field!r} is not an event field; use properties.<name> or context.<name>"
    return None


def _is_path(field: str, prefix: str) -> bool:
    return field.startswith(prefix) and all(field[len(prefix) :].split("."))


def _value_problem(op: str, value: Any) -> str | None:  # noqa: PLR0911 (one check per op)
    if op == "exists":
        ok = value is None or isinstance(value, bool)
        return None if ok else "exists takes true, false or no value"
    if op == "in":
        if not isinstance(value, list | tuple) or not value:
            return 'in needs a non-empty list value, e.g. ["JP", "US"]'
        ok = all(_is_scalar(item) for item in value)
        return None if ok else "in takes a list of text, numbers or true/false"
    if op in _ORDERED_OPS:
        return None if as_number(value) is not None else f"{op} needs a number value"
    if op in _TEXT_OPS:
        ok = isinstance(value, str) and value != ""
        return None if ok else f"{op} needs a non-empty text value"
    if value is None:
        return f"{op} needs a value; to test for a missing field use exists"
    if not _is_scalar(value) or (op == "contains" and value == ""):
        return f"{op} needs a single text, number or true/false value"
    return None


def _condition(problems: _Problems, index: int, item: Any, kind: str | None) -> Condition | None:
    where = f"condition {index}"
    if not isinstance(item, Mapping):
        problems.add("conditions", f"{where}: must be an object with field, op and value")
        return None
    raw_field, raw_op, value = item.get("field"), item.get("op"), item.get("value")
    field = raw_field.strip() if isinstance(raw_field, str) else ""
    op = raw_op if isinstance(raw_op, str) and raw_op in OPS else ""
    found = [
        _field_problem(field, kind) if field else "field is required, e.g. properties.category",
        _value_problem(op, value) if op else f"unknown op {raw_op!r}; use one of {_OP_LIST}",
    ]
    messages = [message for message in found if message]
    for message in messages:
        problems.add("conditions", f"{where}: {message}")
    if messages:
        return None
    frozen = tuple(value) if isinstance(value, list) else value
    return Condition(field=field, op=op, value=frozen)


def _conditions(problems: _Problems, value: Any, kind: str | None) -> tuple[Condition, ...]:
    if value is None:
        return ()
    if not isinstance(value, list | tuple):
        problems.add("conditions", "must be a list of {field, op, value} objects")
        return ()
    parsed = [_condition(problems, i, item, kind) for i, item in enumerate(value, start=1)]
    return tuple(c for c in parsed if c is not None)


def _check_kind(problems: _Problems, data: Mapping[str, Any], kind: str) -> None:
    for key, kinds in _ONLY_FOR.items():
        if kind not in kinds and _given(data.get(key)):
            problems.add(key, f"is not used by {kind} rules; leave it out")
    if kind == "behavior" and not _given(data.get("event")):
        problems.add("event", 'is required for behavior rules, e.g. "Document Downloaded"')
    if kind == "fit" and not _given(data.get("conditions")):
        problems.add("conditions", "a fit rule needs at least one condition")
    if kind == "inactivity" and not _given(data.get("inactive_days")):
        problems.add("inactive_days", "is required for inactivity rules")


def parse_rule(data: Mapping[str, Any], *, rule_id: int = 0) -> Rule:
    """Validate the API's JSON for one rule and build it; raises RuleInvalid with every problem."""
    if not isinstance(data, Mapping):
        raise RuleInvalid({"non_field_errors": ["a rule must be a JSON object"]})
    problems = _Problems()
    name = _text(problems, data, "name")
    if name is None and "name" not in problems.errors:
        problems.add("name", "is required")
    kind_value = data.get("kind")
    kind = kind_value if isinstance(kind_value, str) and kind_value in KINDS else None
    if kind is None:
        problems.add("kind", f"must be one of {', '.join(KINDS)}, got {kind_value!r}")
    points = _number(problems, data, "points", limit=_MAX_POINTS, positive=False)
    if points is None and "points" not in problems.errors:
        problems.add("points", "is required: a number such as 20 or -10")
    event = _text(problems, data, "event")
    after_event = _text(problems, data, "after_event")
    watch_events = _watch_events(problems, data)
    max_times = _max_times(problems, data)
    days = {
        key: _number(problems, data, key, limit=_MAX_DAYS, positive=True)
        for key in ("window_days", "half_life_days", "expire_after_days", "inactive_days")
    }
    conditions = _conditions(problems, data.get("conditions"), kind)
    active = data.get("active", True)
    if active is None:
        active = True
    if not isinstance(active, bool):
        problems.add("active", "must be true or false")
    if kind is not None:
        _check_kind(problems, data, kind)
    if days["window_days"] is not None and max_times is None:
        problems.add("window_days", "only works together with max_times")
    if days["half_life_days"] is not None and days["expire_after_days"] is not None:
        problems.add("expire_after_days", "use half_life_days or expire_after_days, not both")
    if problems.errors or name is None or kind is None or points is None:
        raise RuleInvalid(problems.errors)
    return Rule(
        id=rule_id,
        name=name,
        kind=kind,
        points=points,
        event=event,
        conditions=conditions,
        max_times=max_times,
        window_days=days["window_days"],
        half_life_days=days["half_life_days"],
        expire_after_days=days["expire_after_days"],
        after_event=after_event,
        watch_events=watch_events,
        inactive_days=days["inactive_days"],
        active=active,
    )
