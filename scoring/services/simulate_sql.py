"""The simulator's draft behaviour and inactivity rules counted and faded in PostgreSQL, for
the common shapes; the engine scores everything else (fit rules read no events, and are
scored beside this pass), and every lead this pass cannot answer exactly.

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
- `max_times` per `window_days`: every event, when no event has the one `max_times`
  places before it inside its window; a lead where one has is left to the engine (the
  cap's running choice, `_rule_sql`);
- expiry: the event's age in exact microseconds against the rule's;
- half-lives: each weight is `0.5 ** (seconds / 86400 / half_life)` with the same float
  operations in the same order (IEEE doubles and C's pow on both sides, as in
  `fading.py`), summed as a float; a total within 2e-9 of a half cent, or an exponent
  PostgreSQL would underflow on, is left to the engine;
- an inactivity rule after an event (`after_event`): its points when the last such event
  meeting the conditions is `inactive_days` old and no watched event (any page, screen or
  track event when none is watched) followed it within that span.

tests/scoring/test_simulate_sql.py holds the contributions equal to the engine's on
generated leads, events and rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
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
from .fading import _HUNDRED_MAX, _MAX_HALVINGS, _SLACK
from .loader import _lower_is_ascii

# Past this many distinct values of a condition's field, the rule goes to the engine.
VALUES_MAX: Final = 2000
_CENT: Final = Decimal("0.01")
_ABSENT: Final = ""  # an absent field's text (a JSON value's text is never empty)
# Python's last moment: an inactivity deadline after it overflows in the engine
_LAST_MOMENT: Final = datetime.max.replace(tzinfo=UTC)


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


def _plain_key(name: str) -> bool:
    key = name_key(name)
    return key in (_PAGE_KEY, _SCREEN_KEY) or key.isascii()


def _shape_ok(rule: engine.Rule) -> bool:
    """A rule of a shape this pass computes (the rest: the engine): a behaviour rule, or an
    inactivity rule that waits after an event."""
    if not rule.active or not all(_condition_ok(c) for c in rule.conditions):
        return False
    if rule.kind == "inactivity":
        return (
            bool(rule.after_event)
            and rule.inactive_days is not None
            and _plain_key(rule.after_event or "")
            and all(_plain_key(name) for name in rule.watch_events)
        )
    if rule.kind != "behavior" or not rule.event:
        return False
    # a half-life the engine raises for is left to it, to raise where it raises
    bad_half_life = rule.half_life_days is not None and rule.half_life_days <= 0
    return not bad_half_life and _plain_key(rule.event)


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
    if not all(_shape_ok(rule) for rule in rules if rule.active and rule.kind != "fit"):
        # the engine loads events for the others anyway: scoring these with them there costs
        # less than a pass of their own here (measured: every demo rule changed); fit rules
        # read no events, and the engine answers them from the lead's row
        return (), tuple(rules)
    sql: list[SqlRule] = []
    rest: list[engine.Rule] = []
    for rule in rules:
        key = _rule_key(rule)
        answered = _answers(rule, key) if rule.active and rule.kind != "fit" else None
        if answered is None:
            rest.append(rule)
        else:
            sql.append(SqlRule(rule, key, answered))
    return tuple(sql), tuple(rest)


def _rule_key(rule: engine.Rule) -> str:
    """The key of the events a rule's conditions read: a behaviour rule's event, an
    inactivity rule's anchor."""
    return name_key((rule.after_event if rule.kind == "inactivity" else rule.event) or "")


def _conditions_sql(item: SqlRule, keyed: str) -> tuple[list[str], list[str], list[Any], list[Any]]:
    """The terms (ANDed) for an event that meets the rule's conditions, and for one whose
    every field value was answered, with their parameters."""
    hits, knowns = [keyed], ["TRUE"]
    hit_params: list[Any] = []
    known_params: list[Any] = []
    for condition in item.conditions:
        field, field_params = _field_sql(condition)
        hits.append(f"COALESCE({field}::text, %s) = ANY(%s)")
        knowns.append(f"COALESCE({field}::text, %s) = ANY(%s)")
        hit_params += [*field_params, _ABSENT, list(condition.holds)]
        known_params += [*field_params, _ABSENT, list(condition.seen)]
    return hits, knowns, hit_params, known_params


def _rule_sql(item: SqlRule, scope: _Scope) -> tuple[str, list[Any]]:
    """Per subject of `scope` (a lead, or an outcome) that the rule counts events of or
    leaves to the engine: its contribution in cents (as the engine rounds it) and whether it
    is left to the engine (an exponent past PostgreSQL's range, a field value not answered,
    a track name only Python folds, a windowed cap that found its window full, a total near
    a half cent). A part of `_statement`'s.

    A cap of `max_times` per `window_days` counts an event unless the `max_times`-th latest
    event it counted is inside the window (`engine.evaluate._cap`, a running choice). While
    it has counted every earlier event, that one is the event `max_times` places back: so
    when no event has one inside its window, the cap counts them all; a lead where some
    event has ("crowded") is left to the engine."""
    rule = item.rule
    where, keyed, where_params = _rows_where(item.key)
    hits, knowns, hit_params, known_params = _conditions_sql(item, keyed)
    expire = None
    if rule.expire_after_days is not None:
        span = _days(rule.expire_after_days)
        micros = (span.days * 86_400 + span.seconds) * 1_000_000 + span.microseconds
        expire = Decimal(micros).scaleb(-6)  # exact seconds, as the age below
    half_life = None if rule.half_life_days is None else float(rule.half_life_days)
    counted = "m.hit AND m.kept"
    cap, back, crowded, cap_params = _cap_sql(rule)
    # An event's age, exact (numeric: a cost per row), only where it is read: for a rule
    # that expires or fades, and only for its matching events.
    aged = expire is not None or half_life is not None
    age = (
        "CASE WHEN b.hit THEN GREATEST(EXTRACT(EPOCH FROM b.at - b.timestamp), 0) END"
        if aged
        else "NULL::numeric"
    )
    halvings = (
        "(c.age::float8 / 86400::float8) / %s::float8" if half_life is not None else "NULL::float8"
    )
    cents, declined, cents_params = _cents_sql(rule.points, fading=half_life is not None)
    sql = f"""
        SELECT t.lead_id, CASE WHEN t.declined THEN 0 ELSE t.cents END, t.declined
        FROM (
        SELECT h.lead_id, {cents} AS cents, {declined} AS declined
        FROM (
        SELECT g.*, %s::float8 * g.weights AS total,
               floor(abs(%s::float8 * g.weights) * 100 + 0.5) AS hundred
        FROM (
        SELECT m.lead_id, count(*) FILTER (WHERE {counted}) AS n,
               COALESCE(sum(CASE WHEN m.halvings > {_MAX_HALVINGS} THEN 0
                                 ELSE power(0.5::float8, m.halvings) END)
                        FILTER (WHERE {counted}), 0) AS weights,
               COALESCE(bool_or(m.halvings > {_MAX_HALVINGS}) FILTER (WHERE {counted}),
                        FALSE) AS under,
               bool_and(m.known) AS known, bool_and(m.keyed) AS keyed,
               bool_or(m.crowded) AS crowded
        FROM (
            SELECT c.lead_id, c.hit, c.known, c.keyed, {crowded} AS crowded,
                   {cap} AND (%s::numeric IS NULL OR c.age <= %s::numeric) AS kept,
                   {halvings} AS halvings
            FROM (
                SELECT b.*, row_number() OVER w AS rn, {back} AS back, {age} AS age
                FROM (
                    SELECT {scope.subject} AS lead_id, e.timestamp, e.message_id AS id,
                           ({" AND ".join(hits)}) AS hit, ({" AND ".join(knowns)}) AS known,
                           {keyed} AS keyed, {scope.at} AS at
                    FROM {scope.source}
                    WHERE {where} AND {scope.where}
                ) b
                WINDOW w AS (
                    PARTITION BY b.lead_id, b.hit ORDER BY b.timestamp, b.id COLLATE "C"
                )
            ) c
        ) m
        GROUP BY m.lead_id
        -- a lead with nothing counted and nothing to decline for adds nothing: not sent
        HAVING count(*) FILTER (WHERE {counted}) > 0 OR NOT bool_and(m.known)
            OR NOT bool_and(m.keyed) OR COALESCE(bool_or(m.crowded), FALSE)
        ) g) h) t
    """  # noqa: S608 (fixed names and fragments; every value is a parameter)
    return sql, [
        *cents_params, float(rule.points), float(rule.points), *cap_params, expire, expire,
        *([half_life] if half_life is not None else []),
        *hit_params, *known_params, *where_params, *scope.params,
    ]  # fmt: skip


def _cents_sql(points: Decimal, *, fading: bool) -> tuple[str, str, list[Any]]:
    """A lead's contribution in cents, rounded as the engine rounds it, and whether it is
    left to the engine, over the counted events' number `h.n`, their summed weights'
    `h.total` (points × weights, a float) and `h.hundred` (its cents, a float): `contributions`
    before it computed these in Python, with these operations.

    Not fading: points × count, rounded half away from zero (exact numerics, as the engine's
    `Decimal.quantize`). Fading: the float total's cents, `floor(|total| × 100 + 0.5)`, the
    same IEEE operations as the refresh's (`fading.py`); a total within 2e-9 of a half cent
    (where the float cannot say how the engine's exact rounding goes) or too large for the
    float's cents to be whole is left to the engine."""
    flags = "h.crowded OR h.under OR NOT h.known OR NOT h.keyed"
    if not fading:
        return "round(%s::numeric * h.n, 2)", flags, [points]
    cents = (
        f"CASE WHEN h.n > 0 AND h.hundred < {_HUNDRED_MAX} "
        "THEN (sign(h.total) * h.hundred)::int8 * 0.01 ELSE 0 END"
    )
    low, high = "(h.hundred / 100 - 0.005::float8)", "(h.hundred / 100 + 0.005::float8)"
    near = f"(abs(h.total) >= {high} * %s OR ({low} > 0 AND abs(h.total) <= {low} * %s))"
    declined = f"{flags} OR (h.n > 0 AND (h.hundred >= {_HUNDRED_MAX} OR {near}))"
    return cents, declined, [1 - _SLACK, 1 + _SLACK]


def _cap_sql(rule: engine.Rule) -> tuple[str, str, str, list[Any]]:
    """The cap as SQL over a rule's candidate events in time order (row number `c.rn`):
    whether it keeps an event, the event `max_times` places back, whether that one is
    inside the window (see `_rule_sql`), and the parameters of the third and the first, in
    that order (at most one of them has any)."""
    times, window = rule.max_times, rule.window_days
    if times is None:
        return "TRUE", "NULL::timestamptz", "FALSE", []
    if window is None:
        return "c.rn <= %s::int", "NULL::timestamptz", "FALSE", [times]
    if times < 1:
        return "FALSE", "NULL::timestamptz", "FALSE", []
    span, span_params = _interval_sql(_days(window))
    inside = f"c.hit AND c.back > c.timestamp - {span}"
    return "TRUE", f"lag(b.timestamp, {int(times)}) OVER w", inside, span_params


def _interval_sql(span: timedelta) -> tuple[str, list[Any]]:
    """`span` as an SQL interval: seconds and microseconds, no days part (the session's time
    zone cannot move it); each product is exact in float8 (up to 2^39 seconds; `_days`
    stops at 1,000,000 days)."""
    sql = "(%s::float8 * interval '1 second' + %s::float8 * interval '1 microsecond')"
    return sql, [span.days * 86_400 + span.seconds, span.microseconds]


@dataclass(frozen=True)
class _Scope:
    """Whose events a statement reads, and at what moment: each event `e` of a subject (a
    lead of a range, or an outcome: its lead's events up to its moment, from its epoch on),
    the subject's key, its lead, and its moment as SQL."""

    source: str
    where: str
    params: list[Any]
    subject: str
    lead: str
    at: str


def _range_scope(low: int, high: int) -> _Scope:
    table = Event._meta.db_table
    return _Scope(
        source=f"{table} e LEFT JOIN epochs d ON d.lead_id = e.lead_id",
        where="e.lead_id BETWEEN %s AND %s AND (d.epoch IS NULL OR e.timestamp >= d.epoch)",
        params=[low, high],
        subject="e.lead_id",
        lead="e.lead_id",
        at="(SELECT m.at FROM moment m)",
    )


def _outcome_scope() -> _Scope:
    return _Scope(
        source="subject_events e",
        where="TRUE",
        params=[],
        subject="e.o_key",
        lead="e.lead_id",
        at="e.o_at",
    )


def contributions(
    rules: Sequence[SqlRule], *, low: int, high: int, now: datetime
) -> tuple[dict[int, Decimal], set[int]]:
    """The summed contributions (in cents, as the engine rounds each) of `rules` at `now`
    for the leads with ids in [low, high] that have any, and the leads left to the engine:
    one statement for all the rules, summed per lead in PostgreSQL."""
    scores = LeadScore._meta.db_table
    # The few leads of the range with an epoch (a recycle), read once: probing the score
    # row of every event (the planner cannot tell how many events the range has) cost more
    # than a third of a rule's statement.
    with_sql = f"""
        epochs AS MATERIALIZED (
            SELECT lead_id, epoch FROM {scores}
            WHERE lead_id BETWEEN %s AND %s AND epoch IS NOT NULL
        ), moment AS (SELECT %s::timestamptz AS at)
    """  # noqa: S608 (a fixed name; every value is a parameter)
    return _statement(rules, _range_scope(low, high), with_sql, [low, high, now])


def contributions_at(
    rules: Sequence[SqlRule], subjects: Sequence[tuple[int, int, datetime, datetime | None]]
) -> tuple[dict[int, Decimal], set[int]]:
    """`contributions` for each subject (key, lead id, moment, score epoch): the lead's
    events up to that moment and from that epoch on, scored at that moment (the backtest's
    outcomes, each at its handoff time); by key."""
    if not subjects:
        return {}, set()
    keys, leads, moments, epochs = (list(column) for column in zip(*subjects, strict=True))
    table = Event._meta.db_table
    reads_context = any(c.column == "context" for item in rules for c in item.conditions)
    # Each subject's events read once, through the (lead, timestamp) index, a subject at a
    # time (OFFSET 0 keeps the planner from joining instead: it misjudged a track name's
    # share and hashed all 500,000 events with that name for 1,500 outcomes), and kept for
    # every rule's part; the context only when a condition reads it (it is the large one).
    with_sql = f"""
        subjects AS MATERIALIZED (
            SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::timestamptz[],
                                 %s::timestamptz[]) AS o(key, lead_id, at, epoch)
        ), subject_events AS MATERIALIZED (
            SELECT o.key AS o_key, o.at AS o_at, e.lead_id, e.timestamp, e.message_id,
                   e.type, e.name, e.properties,
                   {"e.context" if reads_context else "NULL::jsonb"} AS context
            FROM subjects o CROSS JOIN LATERAL (
                SELECT * FROM {table} e
                WHERE e.lead_id = o.lead_id AND e.timestamp <= o.at
                  AND (o.epoch IS NULL OR e.timestamp >= o.epoch)
                OFFSET 0
            ) e
        )
    """  # noqa: S608 (a fixed name and fragment; every value is a parameter)
    return _statement(rules, _outcome_scope(), with_sql, [keys, leads, moments, epochs])


def _statement(
    rules: Sequence[SqlRule], scope: _Scope, with_sql: str, with_params: list[Any]
) -> tuple[dict[int, Decimal], set[int]]:
    if not rules:
        return {}, set()
    parts, params = [], list(with_params)
    for item in rules:
        if item.rule.kind == "inactivity":
            sql, part_params = _inactive_sql(item, scope)
        else:
            sql, part_params = _rule_sql(item, scope)
        parts.append(f"({sql})")
        params += part_params
    sql = f"""
        WITH {with_sql}
        SELECT x.subject, sum(x.cents), bool_or(x.declined)
        FROM ({" UNION ALL ".join(parts)}) AS x (subject, cents, declined)
        GROUP BY x.subject
    """  # noqa: S608 (fixed fragments; every value is a parameter)
    found: dict[int, Decimal] = {}
    declined: set[int] = set()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for subject, cents, left in cursor.fetchall():
            if left:
                declined.add(subject)
            else:
                found[subject] = cents
    return found, declined


def _activity_sql(rule: engine.Rule, alias: str) -> tuple[str, list[Any]]:
    """Whether an event counts as activity for an inactivity rule (`evaluate._inactivity`):
    one of the watched events, or with none watched any page, screen or track event."""
    if not rule.watch_events:
        return f"{alias}.type IN ('page', 'screen', 'track')", []
    keys = {name_key(name) for name in rule.watch_events}
    parts = [f"{alias}.type = 'page'"] if _PAGE_KEY in keys else []
    parts += [f"{alias}.type = 'screen'"] if _SCREEN_KEY in keys else []
    tracks = sorted(keys - {_PAGE_KEY, _SCREEN_KEY})
    if tracks:
        parts.append(f"({alias}.type = 'track' AND {track_name_key(alias + '.name')} = ANY(%s))")
    return f"({' OR '.join(parts)})", [tracks] if tracks else []


def _inactive_sql(item: SqlRule, scope: _Scope) -> tuple[str, list[Any]]:
    """`evaluate._inactivity` with an anchor event, per subject of `scope` it gives points to
    or leaves to the engine: the points once `inactive_days` passed after the last event
    that meets the conditions (the anchor) with no activity within them, and whether it is
    left to the engine (a field value among the anchor key's events not answered, a track
    event whose name only Python can fold: it could be an anchor or an activity, a deadline
    past Python's last date, where the engine raises). A part of `_statement`'s."""
    rule = item.rule
    where, where_params = _key_where(item.key)
    hits, knowns, hit_params, known_params = _conditions_sql(item, "TRUE")
    span = _days(rule.inactive_days or Decimal(0))
    with localcontext(_CONTEXT):
        cents = Decimal(rule.points).quantize(_CENT, rounding=ROUND_HALF_UP)
    active, active_params = _activity_sql(rule, "x")
    table = Event._meta.db_table
    name = track_name_key("e.name")
    interval, seconds = _interval_sql(span)
    deadline = f"(y.start + {interval})"
    # The anchors come from the rule's own events (the track-name index), the activity
    # after each from an index probe of its lead's events within the span.
    sql = f"""
        WITH anchors AS MATERIALIZED (
            SELECT {scope.subject} AS subject, {scope.lead} AS lead_id, {scope.at} AS at,
                   max(e.timestamp) FILTER (WHERE {" AND ".join(hits)}) AS start,
                   bool_and({" AND ".join(knowns)}) AS known
            FROM {scope.source}
            WHERE {where} AND {scope.where}
            GROUP BY 1, 2, 3
        ), folded AS MATERIALIZED (
            SELECT DISTINCT {scope.subject} AS subject FROM {scope.source}
            WHERE e.type = 'track' AND {name} IS NULL AND {scope.where}
        )
        SELECT z.subject, CASE WHEN z.declined THEN 0 ELSE %s::numeric END, z.declined
        FROM (
            SELECT y.subject,
                   y.declined OR COALESCE({deadline} > %s::timestamptz, FALSE) AS declined,
                   {deadline} <= y.at AND NOT EXISTS (
                       SELECT 1 FROM {table} x
                       WHERE x.lead_id = y.lead_id AND x.timestamp > y.start
                         AND x.timestamp <= {deadline} AND {active}
                   ) AS due
            FROM (
                SELECT COALESCE(a.subject, f.subject) AS subject, a.lead_id, a.at, a.start,
                       NOT COALESCE(a.known, TRUE) OR f.subject IS NOT NULL AS declined
                FROM anchors a FULL JOIN folded f ON f.subject = a.subject
            ) y
        ) z
        WHERE z.declined OR z.due
    """  # noqa: S608 (fixed names and fragments; every value is a parameter)
    return sql, [
        *hit_params, *known_params, *where_params, *scope.params, *scope.params, cents,
        *seconds, _LAST_MOMENT, *seconds, *seconds, *active_params,
    ]  # fmt: skip
