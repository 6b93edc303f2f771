"""Frozen value types the scoring engine reads (facts, rules) and returns (scores)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

__all__ = ["Condition", "Contribution", "EventFact", "LeadFacts", "Rule", "Score"]


@dataclass(frozen=True, slots=True)
class EventFact:
    """One stored event of a lead; `id` is the message id, the deduplication key."""

    id: str
    type: str  # "track" | "page" | "screen" | "identify" | "group" | "alias"
    name: str  # track event name; "" for page/screen unless named
    timestamp: datetime  # timezone-aware
    properties: Mapping[str, Any] = field(default_factory=dict)
    context: Mapping[str, Any] = field(default_factory=dict)


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
