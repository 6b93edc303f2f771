"""The simulator's draft rules that differ from a published rule in their points only, answered
from the stored scores without reading a single event.

Which events a rule counts, and each one's fading weight, never depend on its points (engine
property: `engine.refade(..., rescaled=True)` equals `engine.evaluate` with such rules,
tests/scoring/engine/test_refade.py). So such a rule's contribution at `now` is, from the
published rule's stored breakdown item and fading sums:

- a rule that does not fade: the new points × the item's count, rounded to cents;
- a fading rule: the new points × (events from the future + the stored summed weights ×
  0.5^(days since the score / half-life)), with the float operations of `engine.refade` and
  of the refresh's set-based pass (scoring/services/fading.py), rounded to cents.

A lead is left to the engine (`declined`) wherever the stored state cannot answer exactly:
its score is not under the published rules, something besides fading may have changed since
it was computed (its `discrete_at` has come, it waits in the scoring queue), or a total lies
within 2e-9 of a half cent or at a float underflow (as the refresh's pass declines).
tests/scoring/test_simulate_points.py holds the answers equal to the engine's on generated
leads, events and drafts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from django.db import connection

from .. import engine
from ..models import LeadScore, ScoreQueue

# the refresh's pass's bounds: its slack around a half cent, where float8 would underflow
from .fading import _MAX_HALVINGS, _MIN_WEIGHTS, _SLACK

_ZERO: Final = Decimal(0)
_CENT: Final = Decimal("0.01")
# Sums of cents stay exact in float8 below this (2^53 / 1000: a lead's few hundred parts).
_EXACT_MAX: Final = 2**53 // 1000


@dataclass(frozen=True)
class Repointed:
    """A draft rule equal to the published rule `live_id` but for its points."""

    live_id: int
    rule: engine.Rule


def _shape(rule: engine.Rule) -> engine.Rule:
    """The rule without its identity and points."""
    return dataclasses.replace(engine.definition(rule), points=_ZERO)


def points_split(
    fresh: Sequence[engine.Rule], live: Sequence[engine.Rule]
) -> tuple[tuple[Repointed, ...], tuple[engine.Rule, ...]]:
    """The draft rules to evaluate that a published (active) rule equals but for the points,
    and the rest."""
    by_shape: dict[engine.Rule, int] = {}
    for rule in sorted((r for r in live if r.active), key=lambda r: r.id):
        by_shape.setdefault(_shape(rule), rule.id)
    repointed: list[Repointed] = []
    rest: list[engine.Rule] = []
    for rule in fresh:
        # (points in whole cents, as rules are stored: the statement counts in cents)
        whole = rule.points == rule.points.quantize(_CENT)
        live_id = by_shape.get(_shape(rule)) if rule.active and whole else None
        if live_id is None:
            rest.append(rule)
        else:
            repointed.append(Repointed(live_id, rule))
    return tuple(repointed), tuple(rest)


def _sql() -> str:
    """One range's statement. Every amount is in cents held exactly in float8 (whole numbers
    far below 2^53), never numeric: a lead's few sums cost a tenth of the numeric ones. A
    fading total is rounded to cents from its float, which is exact wherever the statement
    answers at all: outside 2e-9 of a half cent, where `abs(total) * 100` (off by 1e-16 of
    it at most) cannot cross the boundary."""
    score, queue = LeadScore._meta.db_table, ScoreQueue._meta.db_table
    now = "%(now)s::timestamptz"
    return f"""
    WITH rule AS (
        SELECT * FROM unnest(%(live)s::bigint[], %(points)s::float8[], %(cents)s::float8[],
                             %(half_life)s::float8[], %(fit)s::bool[], %(first)s::bool[])
                      AS r(id, points, cents, half_life, fit, first)
    )
    SELECT s.lead_id,
           s.rules_version = %(version)s AND s.as_of IS NOT NULL AND s.as_of <= {now}
           AND (s.discrete_at IS NULL OR {now} < s.discrete_at)
           AND jsonb_typeof(s.breakdown) = 'array'
           AND (s.fades IS NULL OR jsonb_typeof(s.fades) = 'array')
           AND NOT EXISTS (SELECT FROM {queue} q WHERE q.lead_id = s.lead_id)
           AND COALESCE(p.exact, TRUE) AS ok,
           p.score, p.fit, p.old, p.old_fit
    FROM {score} s
    LEFT JOIN LATERAL (
        SELECT bool_and(y.exact) AS exact, sum(y.cents) AS score,
               COALESCE(sum(y.cents) FILTER (WHERE y.fit), 0) AS fit,
               COALESCE(sum(y.stored) FILTER (WHERE y.first), 0) AS old,
               COALESCE(sum(y.stored) FILTER (WHERE y.first AND y.fit), 0) AS old_fit
        FROM (
            SELECT x.fit, x.first, x.stored,
                   CASE WHEN x.future IS NULL THEN x.cents * x.count
                        ELSE sign(x.total) * x.near END AS cents,
                   CASE WHEN x.future IS NULL THEN abs(x.cents * x.count) < {_EXACT_MAX}
                        ELSE x.ranged AND NOT (
                            abs(x.total) * 100 >= (x.near + 0.5) * (1 - {_SLACK})
                            OR (x.near - 0.5 > 0
                                AND abs(x.total) * 100 <= (x.near - 0.5) * (1 + {_SLACK})))
                   END AS exact
            FROM (
                SELECT w.*, floor(abs(w.total) * 100 + 0.5) AS near
                FROM (
                    -- a fading rule with stored sums: engine.refade's float total (none:
                    -- every counted event is from the future, each weighs 1)
                    SELECT c.cents, c.count, c.fit, c.first, c.stored, f.future, f.ranged,
                           CASE WHEN f.ranged
                                THEN c.points * f.future::float8
                                     + c.points * (f.weights
                                     * power(0.5::float8, c.days / c.half_life))
                           END AS total
                    FROM (
                        SELECT r.points, r.cents, r.fit, r.half_life, r.id, r.first,
                               (e->>'count')::int AS count,
                               round((e->>'points')::float8 * 100) AS stored,
                               EXTRACT(EPOCH FROM {now} - s.as_of)::float8 / 86400 AS days
                        FROM jsonb_array_elements(s.breakdown) e
                        JOIN rule r ON r.id = (e->>'rule_id')::bigint
                    ) c
                    LEFT JOIN LATERAL (
                        SELECT (g->>1)::int AS future, (g->>2)::float8 AS weights,
                               c.days / c.half_life < {_MAX_HALVINGS}
                               AND (g->>2)::float8 > {_MIN_WEIGHTS}
                               AND abs(c.points) < 1e12 AS ranged
                        FROM jsonb_array_elements(
                            CASE WHEN jsonb_typeof(s.fades) = 'array' THEN s.fades END) g
                        WHERE c.half_life > 0 AND (g->>0)::bigint = c.id
                        LIMIT 1
                    ) f ON TRUE
                    OFFSET 0
                ) w
                OFFSET 0
            ) x
        ) y
    ) p ON TRUE
    WHERE s.lead_id BETWEEN %(low)s AND %(high)s
    """  # noqa: S608 (table names and constants only; every value is a parameter)


_STATEMENT: Final = _sql()


def _cents(value: float) -> Decimal:
    """Whole cents held in a float (exact: see `_sql`) as the points they are."""
    return Decimal(int(value)).scaleb(-2)


@dataclass
class Moved:
    """One range's answers: per lead with any of the published rules, what they stored
    (score, fit part: what the draft no longer counts) and, for the leads answered, what
    the draft's rules give instead; the leads left to the engine."""

    stored: dict[int, tuple[Decimal, Decimal]] = field(default_factory=dict)
    found: dict[int, tuple[Decimal, Decimal]] = field(default_factory=dict)
    declined: set[int] = field(default_factory=set)


def repointed_contributions(
    rules: Sequence[Repointed], *, low: int, high: int, now: datetime, version: int
) -> Moved:
    """For the leads with ids in [low, high]: the stored contributions of the published
    rules `rules` repoint (each once) and the summed contributions of `rules` at `now`."""
    moved = Moved()
    if not rules or connection.vendor != "postgresql":
        return moved
    seen: set[int] = set()
    first = []
    for item in rules:
        first.append(item.live_id not in seen)
        seen.add(item.live_id)
    params: dict[str, Any] = {
        "live": [item.live_id for item in rules],
        "points": [float(item.rule.points) for item in rules],
        "cents": [float(item.rule.points * 100) for item in rules],
        "half_life": [
            None if item.rule.half_life_days is None else float(item.rule.half_life_days)
            for item in rules
        ],
        "fit": [item.rule.kind == "fit" for item in rules],
        "first": first,
        "now": now,
        "version": version,
        "low": low,
        "high": high,
    }
    with connection.cursor() as cursor:
        cursor.execute(_STATEMENT, params)
        for lead_id, ok, score, fit, old, old_fit in cursor.fetchall():
            if old:
                moved.stored[lead_id] = (_cents(old), _cents(old_fit))
            if not ok:
                moved.declined.add(lead_id)
            elif score is not None:
                moved.found[lead_id] = (_cents(score), _cents(fit))
    return moved
