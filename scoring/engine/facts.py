"""Frozen value types the scoring engine reads (facts, rules) and returns (scores)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from decimal import Decimal
from typing import Any

__all__ = ["Condition", "Contribution", "EventFact", "LeadFacts", "Rule", "Score", "event_fact"]


@dataclass(frozen=True, slots=True)
class EventFact:
    """One stored event of a lead; `id` is the message id, the deduplication key."""

    id: str
    type: str  # "track" | "page" | "screen" | "identify" | "group" | "alias"
    name: str  # track event name; "" for page/screen unless named
    timestamp: datetime  # timezone-aware
    properties: Mapping[str, Any] = field(default_factory=dict)
    context: Mapping[str, Any] = field(default_factory=dict)


_EVENT_FIELDS = ("id", "type", "name", "timestamp", "properties", "context")
if tuple(f.name for f in fields(EventFact)) != _EVENT_FIELDS or hasattr(EventFact, "__post_init__"):
    raise TypeError("event_fact() fills EventFact's slots by name: update it with the fields")
_new = object.__new__
_set_id, _set_type, _set_name, _set_timestamp, _set_properties, _set_context = (
    getattr(EventFact, name).__set__ for name in _EVENT_FIELDS
)


def event_fact(  # noqa: PLR0917 (EventFact's own positional fields)
    id: str,
    type: str,
    name: str,
    timestamp: datetime,
    properties: Mapping[str, Any],
    context: Mapping[str, Any],
) -> EventFact:
    """`EventFact(id, type, name, timestamp, properties, context)`, the same frozen object,
    built in about half the time (its slots are filled directly, not through the frozen
    dataclass's `object.__setattr__` per field): for loaders that build thousands."""
    event = _new(EventFact)
    _set_id(event, id)
    _set_type(event, type)
    _set_name(event, name)
    _set_timestamp(event, timestamp)
    _set_properties(event, properties)
    _set_context(event, context)
    return event


@dataclass(frozen=True, slots=True)
class LeadFacts:
    """Everything about one lead that a score may depend on."""

    email: str = ""
    company: str = ""
    title: str = ""
    department: str = ""
    employees: int | None = None
    country: str = ""
    industry: str = ""
    traits: Mapping[str, Any] = field(default_factory=dict)
    events: Sequence[EventFact] = ()
    # Engagement counts only events with timestamp >= score_epoch (reset on recycle).
    score_epoch: datetime | None = None


@dataclass(frozen=True, slots=True)
class Condition:
    """A test on one dotted field path: `properties.category eq "pricing"`."""

    field: str
    op: str
    value: Any = None


@dataclass(frozen=True, slots=True)
class Rule:
    """A scoring rule as the engine sees it; build one from API data with `parse_rule`."""

    id: int
    name: str
    kind: str  # "behavior" | "fit" | "inactivity"
    points: Decimal
    event: str | None = None
    conditions: tuple[Condition, ...] = ()
    max_times: int | None = None
    window_days: Decimal | None = None
    half_life_days: Decimal | None = None
    expire_after_days: Decimal | None = None
    after_event: str | None = None
    watch_events: tuple[str, ...] = ()
    inactive_days: Decimal | None = None
    active: bool = True


@dataclass(frozen=True, slots=True)
class Contribution:
    """What one rule added to a score; `points` is quantized to 0.01."""

    rule_id: int
    rule: str
    kind: str
    count: int
    points: Decimal


@dataclass(frozen=True, slots=True)
class Score:
    """A lead's score at `as_of`; the breakdown's points add up to `score` exactly."""

    score: Decimal
    engagement: Decimal
    fit: Decimal
    as_of: datetime
    breakdown: tuple[Contribution, ...]
