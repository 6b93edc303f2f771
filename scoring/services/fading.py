"""The hourly refresh's set-based pass on PostgreSQL: `engine.refade` in one statement per
batch, for the leads whose score only fading can change before their next discrete moment.

`engine.refade` stays the definition: each fading rule's points are points × (future +
weights × 0.5^(days / half-life)), computed here with the same float operations in the same
order (PostgreSQL's float8 and Python's float are both IEEE doubles, `power` and `**` both
C's pow), rounded to cents away from zero, and every other contribution of the stored
breakdown stays. A lead is left to the engine (`Refade.declined`) wherever the two could
differ at all: a total within 2e-9 of a half cent (the engine declines within 1e-9), a weight
or an exponent where PostgreSQL would raise an underflow error instead of giving 0, a rule
missing or no longer fading. The next change is the engine's `_fading_next` solved with
float8 and moved 1 ms earlier still, so it is never later than the engine's (re-scoring
early is harmless); where the future events' points sit within a thousandth of the boundary
the total tends to, their margin is taken in numeric, as the engine's Decimal takes it
(float8 rounded it by up to a few milliseconds of the crossing's time, either way).
tests/scoring/test_fading_sql.py holds it equal to `engine.refade` on
generated leads, rules and moments.

What is written is what `_leads_score` writes for a refaded lead: the score, breakdown and
next change; `as_of` and the fading sums only when the score or breakdown moved (otherwise
the stored ones still describe the lead); a history point by the same rule (moved at least
HISTORY_MIN_DELTA since the last one, or that one is HISTORY_MIN_INTERVAL old)."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any

import orjson
from django.db import connection

from .. import engine
from ..models import LeadScore, ScoreHistory, ScoreQueue

# Wider than the engine's 1e-9 around a half cent, so a total the engine's Decimal check
# would call "on a boundary" never gets an answer here.
_SLACK = 2e-9
# Past these, PostgreSQL's float8 raises an underflow error where Python gives 0.0.
_MAX_HALVINGS, _MIN_WEIGHTS = 1000, 1e-290
# Whole cents stay exact in float8 and int8 below this.
_HUNDRED_MAX = 2**53


def _compute_sql(history_delta: Decimal, history_interval: timedelta) -> str:
    """The statement computing each refadeable lead's new score, one lead at a time in
    LATERAL subqueries (a CTE body; named parameters: now, leads, version, rule_id,
    rule_points, rule_half_life)."""
    score = LeadScore._meta.db_table
    queue = ScoreQueue._meta.db_table
    interval = f"{int(history_interval.total_seconds())} seconds"
    now = "%(now)s::timestamptz"
    # seconds from now to the last moment Python's datetime holds (the engine: None past it)
    horizon = f"EXTRACT(EPOCH FROM '9999-12-31T00:00:00Z'::timestamptz - {now})::float8"
    return f"""
    WITH rule AS (
        -- the points as float8 for the weights' arithmetic, as numeric (as written) for
        -- the crossing's margin below; a numeric's float8 is the literal's
        SELECT r.id, r.exact_points::float8 AS points, r.exact_points, r.half_life
        FROM unnest(%(rule_id)s::bigint[], %(rule_points)s::numeric[],
                    %(rule_half_life)s::float8[]) AS r(id, exact_points, half_life)
        WHERE r.half_life > 0
    ), base AS (
        SELECT s.lead_id, s.score, s.engagement, s.fit, s.breakdown, s.fades, s.discrete_at,
               s.history_score, s.history_at,
               EXTRACT(EPOCH FROM {now} - s.as_of)::float8 / 86400 AS days
        FROM {score} s
        WHERE s.lead_id = ANY(%(leads)s::bigint[]) AND s.rules_version = %(version)s
          AND jsonb_typeof(s.fades) = 'array' AND jsonb_typeof(s.breakdown) = 'array'
          AND s.as_of <= {now} AND (s.discrete_at IS NULL OR {now} < s.discrete_at)
          AND NOT EXISTS (SELECT FROM {queue} q WHERE q.lead_id = s.lead_id)
    ), refaded AS (
        SELECT b.lead_id, b.score AS old_score, b.fit AS old_fit, p.score, p.engagement,
               p.fit, p.breakdown, p.fades,
               CASE WHEN b.discrete_at IS NULL AND p.crossing_at IS NULL THEN NULL
                    ELSE GREATEST({now}, LEAST(b.discrete_at, p.crossing_at))
               END AS next_change_at,
               (p.score, p.engagement, p.fit) <> (b.score, b.engagement, b.fit) AS moved,
               p.breakdown <> b.breakdown AS stale, b.history_score, b.history_at
        FROM base b
        CROSS JOIN LATERAL (
            -- the stored breakdown with each fading rule's points moved forward in place
            -- (engine.score_of); its rules' names and kinds are the published version's
            SELECT count(*) AS parts, count(x.key) AS sums, bool_and(c.known) AS known,
                   bool_and(x.key IS NULL OR x.exact) AS exact,
                   sum(COALESCE(x.cents, c.points)) AS score,
                   COALESCE(sum(COALESCE(x.cents, c.points)) FILTER (WHERE c.kind <> 'fit'),
                            0) AS engagement,
                   COALESCE(sum(c.points) FILTER (WHERE c.kind = 'fit'), 0) AS fit,
                   min(x.crossing_at) AS crossing_at,
                   -- to_jsonb(array_agg()): the same array as jsonb_agg(), a third cheaper
                   to_jsonb(array_agg(CASE WHEN x.key IS NULL THEN c.item
                                           ELSE jsonb_set(c.item, '{{points}}',
                                                          to_jsonb(sign(x.cents)::float8
                                                                   * x.hundred / 100))
                                      END ORDER BY c.ord)) AS breakdown,
                   to_jsonb(array_agg(jsonb_build_array(x.rule_id, x.future, x.weights::text)
                                      ORDER BY x.ord) FILTER (WHERE x.key IS NOT NULL)) AS fades
            FROM (
                SELECT e.item, e.ord, e.item->>'rule_id' AS key, e.item->>'kind' AS kind,
                       (e.item->>'points')::numeric AS points,
                       (e.item->>'rule_id')::bigint = ANY(%(rule_id)s::bigint[]) AS known
                FROM jsonb_array_elements(b.breakdown) WITH ORDINALITY AS e(item, ord)
            ) c
            LEFT JOIN (
                -- each fading rule's sums moved forward: engine.refade and _fading_next
                SELECT y.key, y.ord, y.rule_id, y.future, y.weights, y.exact, y.cents,
                       y.hundred, CASE
                    WHEN NOT y.exact OR y.hundred - 0.5 <= 0 THEN NULL
                    WHEN y.margin <= 0 THEN NULL
                    ELSE {now} + make_interval(secs => LEAST({horizon}, 86400
                         * y.half_life * ln(abs(y.points) * y.weights / y.margin)
                         / ln(2::float8))) - interval '2 milliseconds'
                    END AS crossing_at
                FROM (
                -- how far the future events' points (`floor`) stay from the boundary the
                -- total tends to (`target`), as the engine's Decimal has it: where they are
                -- within a thousandth of it, float8's rounding of each is a large share of
                -- their difference (a hundredth of a second or more in the crossing's time),
                -- so that difference is taken in numeric, exactly
                SELECT q.*, CASE
                    WHEN NOT q.exact OR q.hundred - 0.5 <= 0 THEN NULL
                    WHEN abs(q.target - abs(q.points) * q.future) >= q.target * 0.001
                    THEN q.target - abs(q.points) * q.future
                    ELSE ((q.hundred::int8 - 0.5) / 100 * 1.000000001
                          - abs(q.exact_points) * q.future)::float8
                    END AS margin
                FROM (
                SELECT t.*, (t.hundred - 0.5) / 100 * 1.000000001 AS target
                FROM (
                    -- the rounded points as whole cents in float8 (exact below 2^53), the
                    -- numeric made once from an integer: float8 to numeric goes through text
                    SELECT z.*, z.weights IS NOT NULL AND z.hundred < {_HUNDRED_MAX} AND NOT (
                               abs(z.total) >= (z.near + 0.005) * (1 - {_SLACK})
                               OR (z.near - 0.005 > 0
                                   AND abs(z.total) <= (z.near - 0.005) * (1 + {_SLACK}))
                           ) AS exact,
                           CASE WHEN z.hundred < {_HUNDRED_MAX}
                                THEN (sign(z.total) * z.hundred)::int8 * 0.01 END AS cents
                    FROM (
                        SELECT w.*, floor(abs(w.total) * 100 + 0.5) AS hundred,
                               floor(abs(w.total) * 100 + 0.5) / 100 AS near
                        FROM (
                            SELECT v.*, v.points * v.future::float8 + v.points * v.weights
                                        AS total
                            FROM (
                                SELECT e.ord, e.item->>0 AS key, r.id AS rule_id, r.points,
                                       r.exact_points, r.half_life,
                                       (e.item->>1)::int AS future,
                                       CASE WHEN r.id IS NOT NULL
                                             AND b.days / r.half_life < {_MAX_HALVINGS}
                                             AND (e.item->>2)::float8 > {_MIN_WEIGHTS}
                                             AND abs(r.points) < 1e12
                                       THEN (e.item->>2)::float8 * power(0.5::float8,
                                            b.days / r.half_life) END AS weights
                                FROM jsonb_array_elements(b.fades) WITH ORDINALITY
                                     AS e(item, ord)
                                LEFT JOIN rule r ON r.id = (e.item->>0)::bigint
                            OFFSET 0) v
                        OFFSET 0) w
                    OFFSET 0) z
                OFFSET 0) t
                OFFSET 0) q
                OFFSET 0) y
            ) x ON x.key = c.key
        ) p
        WHERE p.parts = jsonb_array_length(b.breakdown)
          AND p.sums = jsonb_array_length(b.fades) AND p.known AND p.exact
    )
    SELECT r.*, r.moved AND (r.history_score IS NULL OR r.history_at IS NULL
                             OR abs(r.score - r.history_score) >= {history_delta}
                             OR {now} - r.history_at >= interval '{interval}') AS point
    FROM refaded r
    """  # noqa: S608 (table names and constants only)


def _write_sql(compute: str) -> str:
    """The compute statement's rows written in one statement: every refaded row gets its
    score, breakdown and next change; `as_of` and the fading sums only when it moved or was
    stale; a history point where due. Returns lead_id, moved, rose, score."""
    score = LeadScore._meta.db_table
    history = ScoreHistory._meta.db_table
    return f"""
    WITH computed AS ({compute}
    ), written AS (
        UPDATE {score} d SET score = c.score, engagement = c.engagement, fit = c.fit,
            breakdown = c.breakdown, next_change_at = c.next_change_at,
            as_of = CASE WHEN c.moved OR c.stale THEN %(now)s::timestamptz ELSE d.as_of END,
            fades = CASE WHEN c.moved OR c.stale THEN c.fades ELSE d.fades END,
            history_score = CASE WHEN c.point THEN c.score ELSE d.history_score END,
            history_at = CASE WHEN c.point THEN %(now)s::timestamptz ELSE d.history_at END
        FROM computed c WHERE d.lead_id = c.lead_id
        RETURNING d.lead_id, c.moved, c.score > c.old_score OR c.fit > c.old_fit AS rose,
                  c.point, c.score, c.engagement, c.fit
    ), points AS (
        INSERT INTO {history} (lead_id, at, cause, score, engagement, fit)
        SELECT w.lead_id, %(now)s::timestamptz, '{ScoreHistory.Cause.TIME.value}', w.score,
               w.engagement, w.fit
        FROM written w WHERE w.point
    )
    SELECT lead_id, moved, rose, score FROM written
    """  # noqa: S608 (table names and constants only)


@dataclass
class Refade:
    """One batch's set-based pass: the leads it answered for (the others are the engine's),
    the new scores of those that moved, and those whose score or fit rose."""

    done: set[int] = field(default_factory=set)
    changed: dict[int, Decimal] = field(default_factory=dict)
    rose: set[int] = field(default_factory=set)

    def declined(self, lead_ids: Sequence[int]) -> list[int]:
        return [pk for pk in lead_ids if pk not in self.done]


def _params(
    lead_ids: Sequence[int], rules: Sequence[engine.Rule], *, version: int, now: datetime
) -> dict[str, Any]:
    active = [rule for rule in rules if rule.active]
    return {
        "now": now,
        "leads": list(lead_ids),
        "version": version,
        "rule_id": [rule.id for rule in active],
        "rule_points": [rule.points for rule in active],
        "rule_half_life": [rule.half_life_days for rule in active],
    }


@cache
def _statements() -> tuple[str, str]:
    """The compute statement and the write statement around it."""
    from .scores import HISTORY_MIN_DELTA, HISTORY_MIN_INTERVAL  # noqa: PLC0415 (they import us)

    compute = _compute_sql(HISTORY_MIN_DELTA, HISTORY_MIN_INTERVAL)
    return compute, _write_sql(compute)


def _execute(cursor: Any, sql: str, params: dict[str, Any]) -> None:
    # float8 as text with every digit (PostgreSQL's default since 12; a server or pooler
    # set to fewer would round the fading sums written back)
    cursor.execute("SET LOCAL extra_float_digits = 1")
    cursor.execute(sql, params)


def refaded_rows(
    lead_ids: Sequence[int], rules: Sequence[engine.Rule], *, version: int, now: datetime
) -> dict[int, dict[str, Any]]:
    """What the pass would write for each lead it answers for (nothing is written): score,
    engagement, fit, breakdown, fades, next_change_at, moved, stale, point."""
    with connection.cursor() as cursor:
        _execute(cursor, _statements()[0], _params(lead_ids, rules, version=version, now=now))
        names = [column.name for column in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    for row in rows:  # Django reads jsonb as text
        row["breakdown"], row["fades"] = orjson.loads(row["breakdown"]), orjson.loads(row["fades"])
    return {row["lead_id"]: row for row in rows}


def leads_refade(
    lead_ids: Sequence[int], rules: Sequence[engine.Rule], *, version: int, now: datetime
) -> Refade:
    """Refade these leads' scores in one statement (their score rows locked by the caller),
    write what changed and return what it did; the leads it declines are left untouched."""
    if connection.vendor != "postgresql" or not lead_ids:
        return Refade()
    done = Refade()
    with connection.cursor() as cursor:
        _execute(cursor, _statements()[1], _params(lead_ids, rules, version=version, now=now))
        for lead_id, moved, rose, score in cursor.fetchall():
            done.done.add(lead_id)
            if moved:
                done.changed[lead_id] = score
            if rose:
                done.rose.add(lead_id)
    return done
