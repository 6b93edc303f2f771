"""Condition operators, dotted field lookup and the shared meaning of "event X"."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, Final

from scoring.engine.facts import Condition, EventFact, LeadFacts

__all__ = [
    "FIT_FIELDS",
    "OPS",
    "OP_ORDER",
    "as_number",
    "condition_holds",
    "event_field",
    "event_key",
    "event_matches_name",
    "lead_field",
    "name_key",
]

# The order people read them in error messages; OPS is the set to test membership against.
OP_ORDER: Final = (
    "eq",
    "ne",
    "in",
    "contains",
    "startswith",
    "endswith",
    "gt",
    "gte",
    "lt",
    "lte",
    "exists",
)
OPS: Final = frozenset(OP_ORDER)
FIT_FIELDS: Final = frozenset(
    {"email_domain", "company", "title", "department", "employees", "country", "industry"}
)

# A value that is absent or None: `exists` is false, `ne` is true, every other op false.
_MISSING: Final = object()
# Page and screen views are named by type; these keys cannot collide with a track name.
_PAGE_KEY: Final = "\x00page"
_SCREEN_KEY: Final = "\x00screen"


@lru_cache(maxsize=4096)
def name_key(name: str) -> str:
    """The key a rule's event name selects: page/screen views by type, else a track name."""
    folded = _fold(name)
    if folded == "page":
        return _PAGE_KEY
    if folded == "screen":
        return _SCREEN_KEY
    return folded


def event_key(event: EventFact) -> str | None:
    """The key an event is found under; None for identify/group/alias calls."""
    if event.type == "page":
        return _PAGE_KEY
    if event.type == "screen":
        return _SCREEN_KEY
    if event.type == "track":
        return _fold(event.name)
    return None


@lru_cache(maxsize=16384)
def _fold(name: str) -> str:
    # Names repeat (a few dozen per site): fold each once.
    return name.strip().casefold()


def event_matches_name(event: EventFact, name: str) -> bool:
    """True when `event` is an "event `name`": `page`/`screen` by type, else a track name."""
    return event_key(event) == name_key(name)


def _walk(root: Mapping[str, Any], path: list[str]) -> Any:
    node: Any = root
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return _MISSING
        node = node[part]
    return _MISSING if node is None else node


def event_field(event: EventFact, path: str) -> Any:
    """Resolve `properties.a.b` or `context.a.b` on an event; missing → the sentinel."""
    head, _, rest = path.partition(".")
    if head == "properties":
        return _walk(event.properties, rest.split("."))
    if head == "context":
        return _walk(event.context, rest.split("."))
    return _MISSING


def lead_field(lead: LeadFacts, path: str) -> Any:
    """Resolve a fit field (`email_domain`, `company`, ..., `traits.a.b`) on a lead."""
    if path == "email_domain":
        local, at, domain = lead.email.strip().rpartition("@")
        return domain.lower() if at and local else _MISSING
    if path in FIT_FIELDS:
        value: Any = getattr(lead, path)
        return _MISSING if value is None else value
    head, _, rest = path.partition(".")
    if head == "traits" and rest:
        return _walk(lead.traits, rest.split("."))
    return _MISSING


def as_number(value: Any) -> Decimal | None:
    """Read int/float/Decimal or a numeric string as a finite Decimal; bools are not numbers."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | Decimal):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            return None
    else:
        return None
    return number if number.is_finite() else None


def _equals(actual: Any, expected: Any) -> bool:
    left, right = as_number(actual), as_number(expected)
    if left is not None and right is not None:
        return left == right
    if isinstance(actual, str) and isinstance(expected, str):
        return actual.casefold() == expected.casefold()
    if isinstance(actual, bool) or isinstance(expected, bool):
        return isinstance(actual, bool) and isinstance(expected, bool) and actual == expected
    if isinstance(actual, list | tuple) and isinstance(expected, list | tuple):
        return len(actual) == len(expected) and all(map(_equals, actual, expected))
    return bool(actual == expected)


def _contains(actual: Any, expected: Any) -> bool:
    if isinstance(actual, str):
        if as_number(expected) is not None and not isinstance(expected, str):
            expected = str(expected)
        return isinstance(expected, str) and expected.casefold() in actual.casefold()
    if isinstance(actual, list | tuple):
        return any(_equals(item, expected) for item in actual)
    return False


def _affix(check: Callable[[str, str], bool]) -> Callable[[Any, Any], bool]:
    def op(actual: Any, expected: Any) -> bool:
        if not isinstance(actual, str) or not isinstance(expected, str):
            return False
        return check(actual.casefold(), expected.casefold())

    return op


def _ordered(check: Callable[[Decimal, Decimal], bool]) -> Callable[[Any, Any], bool]:
    def op(actual: Any, expected: Any) -> bool:
        left, right = as_number(actual), as_number(expected)
        return left is not None and right is not None and check(left, right)

    return op


def _in(actual: Any, expected: Any) -> bool:
    if not isinstance(expected, list | tuple | frozenset | set):
        return False
    return any(_equals(actual, item) for item in expected)


_PRESENT_OPS: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "eq": _equals,
    "ne": lambda actual, expected: not _equals(actual, expected),
    "in": _in,
    "contains": _contains,
    "startswith": _affix(str.startswith),
    "endswith": _affix(str.endswith),
    "gt": _ordered(lambda a, b: a > b),
    "gte": _ordered(lambda a, b: a >= b),
    "lt": _ordered(lambda a, b: a < b),
    "lte": _ordered(lambda a, b: a <= b),
}


def _holds(actual: Any, op: str, expected: Any) -> bool:
    if op == "exists":
        present = actual is not _MISSING and actual != ""
        return present if expected is None else present is bool(expected)
    if actual is _MISSING:
        return op == "ne"
    check = _PRESENT_OPS.get(op)
    if check is None:
        raise ValueError(f"unknown op {op!r}")
    return check(actual, expected)


def condition_holds(condition: Condition, actual: Any) -> bool:
    """Apply `condition` to a value already resolved with `event_field`/`lead_field`."""
    return _holds(actual, condition.op, condition.value)
