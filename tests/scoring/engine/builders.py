"""Small builders for engine tests: a fixed NOW, events by age, rules with defaults."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from scoring.engine import Condition, EventFact, LeadFacts, Rule, Score, evaluate

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
_ids = itertools.count(1)


def ago(days: float = 0, *, seconds: float = 0) -> datetime:
    """The moment `days` (+ `seconds`) before NOW; negative values are in the future."""
    return NOW - timedelta(days=days, seconds=seconds)


def track(
    name: str,
    at: datetime,
    *,
    id: str | None = None,
    context: dict[str, Any] | None = None,
    **properties: Any,
) -> EventFact:
    return EventFact(
        id=id or f"m{next(_ids)}",
        type="track",
        name=name,
        timestamp=at,
        properties=properties,
        context=context or {},
    )


def page(at: datetime, *, id: str | None = None, **properties: Any) -> EventFact:
    return EventFact(
        id=id or f"m{next(_ids)}", type="page", name="", timestamp=at, properties=properties
    )


def cond(field: str, op: str, value: Any = None) -> Condition:
    return Condition(field=field, op=op, value=value)


def rule(kind: str = "behavior", *, id: int = 1, points: Any = 10, **options: Any) -> Rule:
    options.setdefault("name", f"rule {id}")
    for key in ("window_days", "half_life_days", "expire_after_days", "inactive_days"):
        if options.get(key) is not None:
            options[key] = Decimal(options[key])
    if "conditions" in options:
        options["conditions"] = tuple(options["conditions"])
    if "watch_events" in options:
        options["watch_events"] = tuple(options["watch_events"])
    return Rule(id=id, kind=kind, points=Decimal(points), **options)


def lead(*events: EventFact, **fields: Any) -> LeadFacts:
    return LeadFacts(events=events, **fields)


def score_of(facts: LeadFacts, *rules: Rule) -> Score:
    return evaluate(facts, rules, now=NOW)


def d(text: str) -> Decimal:
    return Decimal(text)
