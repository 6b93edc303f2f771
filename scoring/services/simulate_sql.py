"""The simulator's draft behaviour rules counted and faded in PostgreSQL, for the common
shapes; the engine scores everything else, and every lead this pass cannot answer exactly.

`engine.Scorer` stays the definition of a score. A behaviour rule's contribution is its
points times the events it counts (or the sum of their fading weights), rounded to cents;
here PostgreSQL picks those events and sums their weights, with the engine's own answers
where the engine's semantics are subtle:

- which events: the rule's event key spelled as the track-name index holds it (ASCII
  names; a lead with any track name only Python's exact folding can match is left to the
  engine), after the lead's score epoch;
- conditions: each one is answered by the engine's own operator code (`conditions._holds`)
  for every distinct JSON value the field takes among the rule's events, read from the
  same JSON text the loader reads; PostgreSQL then keeps the events whose value is one
  that holds. A rule whose fields take more than `VALUES_MAX` distinct values is left to
  the engine, and so is a lead with a value not seen when the answers were made (an event
  stored meanwhile);
- `max_times` without a window: the earliest events by (timestamp, message id), ordered
  as Python orders them (the id's code points: COLLATE "C"); the engine's choice among
  copies of one message id never arises, since a message id is stored once (EventKey);
  rules with a window go to the engine;
- expiry: the event's age in exact microseconds against the rule's;
- half-lives: each weight is `0.5 ** (seconds / 86400 / half_life)` with the same float
  operations in the same order (IEEE doubles and C's pow on both sides, as in
  `fading.py`), summed as a float; a total within 2e-9 of a half cent, or an exponent
  PostgreSQL would underflow on, is left to the engine.

tests/scoring/test_simulate_sql.py holds the contributions equal to the engine's on
generated leads, events and rules.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Any, Final

import orjson
from django.db import connection

from mqlapp.leads.event_store import track_name_key
from mqlapp.leads.models import Event

from .. import engine
from ..engine.conditions import _MISSING, _PAGE_KEY, _SCREEN_KEY, _holds, name_key
from ..engine.evaluate import _CONTEXT, _days
from ..models import LeadScore

# the refresh's pass's bounds: its slack around a half cent, where float8 would underflow
from .fading import _MAX_HALVINGS, _SLACK
from .loader import _lower_is_ascii

# Past this many distinct values of a condition's field, the rule goes to the engine.
VALUES_MAX: Final = 2000
_CENT: Final = Decimal("0.01")
_ABSENT: Final = ""  # an absent field's text (a JSON value's text is never empty)


@dataclass(frozen=True)
class SqlCondition:
    """A condition as PostgreSQL applies it: the JSON texts of its field that hold, and all
    the texts the field took when they were answered."""

    column: str  # "properties" or "context"
    path: tuple[str, ...]
    holds: tuple[str, ...]
    seen: tuple[str, ...]


@dataclass(frozen=True)
class SqlRule:
    rule: engine.Rule
    key: str
    conditions: tuple[SqlCondition, ...]


def _shape_ok(rule: engine.Rule) -> bool:
    """A behaviour rule of a shape this pass computes (the rest: the engine)."""
    if rule.kind != "behavior" or not rule.active or not rule.event:
        return False
    windowed = rule.max_times is not None and rule.window_days is not None
    # a half-life the engine raises for is left to it, to raise where it raises
    bad_half_life = rule.half_life_days is not None and rule.half_life_days <= 0
    key = name_key(rule.event)
    plain_key = key in (_PAGE_KEY, _SCREEN_KEY) or key.isascii()
    return (
        not windowed
        and not bad_half_life
        and plain_key
        and all(_condition_ok(condition) for condition in rule.conditions)
    )


def _condition_ok(condition: engine.Condition) -> bool:
    head, _, rest = condition.field.partition(".")
    parts = rest.split(".")
    # a digit part would index a JSON array in PostgreSQL, never in the engine
    return (
        head in ("properties", "context")
        and all(parts)
        and not any(part.lstrip("-").isdigit() for part in parts)
        and condition.op in engine.OPS
    )


def _key_where(key: str) -> tuple[str, list[Any]]:
    if key == _PAGE_KEY:
        return "e.type = 'page'", []
    if key == _SCREEN_KEY:
        return "e.type = 'screen'", []
    return f"(e.type = 'track' AND {track_name_key('e.name')} = %s)", [key]


def _rows_where(key: str) -> tuple[str, str, list[Any]]:
    """The events the rule's pass reads, and which of them have the rule's key: for a track
    rule, also the track events whose name only Python can fold (their lead is declined)."""
    if key in (_PAGE_KEY, _SCREEN_KEY):
        where, params = _key_where(key)
        return where, "TRUE", params
    name = track_name_key("e.name")
    return (
        f"(e.type = 'track' AND ({name} = %s OR {name} IS NULL))",
        f"({name} IS NOT NULL)",
        [key],
    )


def _field_sql(condition: SqlCondition) -> tuple[str, list[Any]]:
    if len(condition.path) == 1:
        return f"(e.{condition.column} -> %s)", [condition.path[0]]
    return f"(e.{condition.column} #> %s)", [list(condition.path)]


def _answers(rule: engine.Rule, key: str) -> tuple[SqlCondition, ...] | None:
    """Each condition's answers for every value its field takes among the rule's events (None:
    too many values, or an answer the engine would raise for)."""
    found = []
    table = Event._meta.db_table
    where, params = _key_where(key)
    for condition in rule.conditions:
        head, _, rest = condition.field.partition(".")
        spec = SqlCondition(head, tuple(rest.split(".")), (), ())
        field, field_params = _field_sql(spec)
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT DISTINCT COALESCE({field}::text, %s) FROM {table} e "  # noqa: S608
                f"WHERE {where} AND e.lead_id IS NOT NULL LIMIT %s",
                [*field_params, _ABSENT, *params, VALUES_MAX + 1],
            )
            texts = [text for (text,) in cursor.fetchall()]
        if len(texts) > VALUES_MAX:
            return None
        holds = []
        for text in texts:
            try:
                value = _MISSING if text == _ABSENT else orjson.loads(text)
                if value is None:
                    value = _MISSING  # JSON null: absent to the engine
                if _holds(value, condition.op, condition.value):
                    holds.append(text)
            except Exception:  # noqa: BLE001 (the engine decides what such a value does)
                return None
        if _holds(_MISSING, condition.op, condition.value) and _ABSENT not in holds:
            holds.append(_ABSENT)  # absent everywhere now; an event stored later may be too
        found.append(SqlCondition(spec.column, spec.path, tuple(holds), tuple(texts)))
    return tuple(found)


def rules_split(
    rules: Sequence[engine.Rule], *, fast: bool
) -> tuple[tuple[SqlRule, ...], tuple[engine.Rule, ...]]:
    """The draft rules this pass computes (with their conditions answered) and the rest: all
    of them here when every one has a shape it computes, else none."""
    if not fast or not rules or not _lower_is_ascii():
        return (), tuple(rules)
    if not all(_shape_ok(rule) for rule in rules if rule.active):
        # the engine loads events for the others anyway: scoring these with them there costs
        # less than a pass of their own here (measured: every demo rule changed)
        return (), tuple(rules)
    sql: list[SqlRule] = []
    rest: list[engine.Rule] = []
    for rule in rules:
        answered = _answers(rule, name_key(rule.event or "")) if rule.active else None
        if answered is None:
            rest.append(rule)
        else:
            sql.append(SqlRule(rule, name_key(rule.event or ""), answered))
    return tuple(sql), tuple(rest)


def _rule_sql(item: SqlRule, *, now: datetime, low: int, high: int) -> tuple[str, list[Any]]:
    """Per lead of the range with the rule's events: how many it counts, their summed
    weights, whether any exponent is past PostgreSQL's range, and whether every field value
    among them was answered."""
    rule = item.rule
    where, keyed, where_params = _rows_where(item.key)
    hits, knowns = [keyed], ["TRUE"]
    hit_params: list[Any] = []
    known_params: list[Any] = []
    for condition in item.conditions:
        field, field_params = _field_sql(condition)
        hits.append(f"COALESCE({field}::text, %s) = ANY(%s)")
        knowns.append(f"COALESCE({field}::text, %s) = ANY(%s)")
        hit_params += [*field_params, _ABSENT, list(condition.holds)]
        known_params += [*field_params, _ABSENT, list(condition.seen)]
    expire = None
    if rule.expire_after_days is not None:
        span = _days(rule.expire_after_days)
        micros = (span.days * 86_400 + span.seconds) * 1_000_000 + span.microseconds
        expire = Decimal(micros).scaleb(-6)  # exact seconds, as the age below
    half_life = None if rule.half_life_days is None else float(rule.half_life_days)
    table, scores = Event._meta.db_table, LeadScore._meta.db_table
    counted = "m.hit AND m.kept"
    # The few leads of the range with an epoch (a recycle), read once: probing the score
    # row of every event (the planner cannot tell how many events the range has) cost more
    # than a third of the statement.
    sql = f"""
        WITH epochs AS MATERIALIZED (
            SELECT lead_id, epoch FROM {scores}
            WHERE lead_id BETWEEN %s AND %s AND epoch IS NOT NULL
        )
        SELECT m.lead_id, count(*) FILTER (WHERE {counted}) AS n,
               COALESCE(sum(CASE WHEN m.halvings > {_MAX_HALVINGS} THEN 0
                                 ELSE power(0.5::float8, m.halvings) END)
                        FILTER (WHERE {counted}), 0) AS weights,
               COALESCE(bool_or(m.halvings > {_MAX_HALVINGS}) FILTER (WHERE {counted}),
                        FALSE) AS under,
               bool_and(m.known) AS known, bool_and(m.keyed) AS keyed
        FROM (
            SELECT c.lead_id, c.hit, c.known, c.keyed,
                   (%s::int IS NULL OR c.rn <= %s::int)
                   AND (%s::numeric IS NULL OR c.age <= %s::numeric) AS kept,
                   (c.age::float8 / 86400::float8) / %s::float8 AS halvings
            FROM (
                SELECT b.*, row_number() OVER (
                    PARTITION BY b.lead_id, b.hit ORDER BY b.timestamp, b.id COLLATE "C"
                ) AS rn
                FROM (
                    SELECT e.lead_id, e.timestamp, e.message_id AS id,
                           ({" AND ".join(hits)}) AS hit, ({" AND ".join(knowns)}) AS known,
                           {keyed} AS keyed,
                           GREATEST(EXTRACT(EPOCH FROM %s::timestamptz - e.timestamp), 0) AS age
                    FROM {table} e LEFT JOIN epochs d ON d.lead_id = e.lead_id
                    WHERE {where} AND e.lead_id BETWEEN %s AND %s
                      AND (d.epoch IS NULL OR e.timestamp >= d.epoch)
                ) b
            ) c
        ) m
        GROUP BY m.lead_id
    """  # noqa: S608 (fixed names and fragments; every value is a parameter)
    return sql, [
        low, high, rule.max_times, rule.max_times, expire, expire, half_life,
        *hit_params, *known_params, now, *where_params, low, high,
    ]  # fmt: skip


def _near(total: float) -> bool:
    """Within the slack of a half cent: the float cannot say how the engine rounds."""
    value = abs(total)
    cents = math.floor(value * 100 + 0.5) / 100
    low, high = cents - 0.005, cents + 0.005
    return value >= high * (1 - _SLACK) or (low > 0 and value <= low * (1 + _SLACK))


def contributions(
    rules: Sequence[SqlRule], *, low: int, high: int, now: datetime
) -> tuple[dict[int, Decimal], set[int]]:
    """The summed contributions (in cents, as the engine rounds each) of `rules` for the
    leads with ids in [low, high] that have any, and the leads left to the engine."""
    found: dict[int, Decimal] = {}
    declined: set[int] = set()
    with connection.cursor() as cursor:
        for item in rules:
            cursor.execute(*_rule_sql(item, now=now, low=low, high=high))
            points = item.rule.points
            fading = item.rule.half_life_days is not None
            for lead_id, count, weights, under, known, keyed in cursor.fetchall():
                if lead_id in declined or (not count and known and keyed):
                    continue
                if under or not known or not keyed:
                    declined.add(lead_id)
                    continue
                if fading:
                    total = float(points) * weights
                    if _near(total):
                        declined.add(lead_id)
                        continue
                    cents = Decimal(total).quantize(_CENT, rounding=ROUND_HALF_UP)
                else:
                    with localcontext(_CONTEXT):
                        cents = (points * count).quantize(_CENT, rounding=ROUND_HALF_UP)
                found[lead_id] = found.get(lead_id, Decimal(0)) + cents
    for lead_id in declined:
        found.pop(lead_id, None)
    return found, declined
