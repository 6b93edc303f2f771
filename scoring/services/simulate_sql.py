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
  stored meanwhile); the values are kept in the cache between simulations and topped up
  with the events stored since (`_field_texts`);
- `max_times` without a window: the earliest events by (timestamp, message id), ordered
  as Python orders them (the id's code points: COLLATE "C"); the engine's choice among
  copies of one message id never arises, since a message id is stored once (EventKey);
- `max_times` per `window_days`: every event, when no event has the one `max_times`
  places before it inside its window; a lead where one has is left to the engine (the
  cap's running choice, `_behaviour_sql`);
- expiry: the event's age, an exact interval (microseconds), against the rule's;
- half-lives: each weight is `0.5 ** (seconds / 86400 / half_life)` with the same float
  operations in the same order (IEEE doubles and C's pow on both sides, as in
  `fading.py`), summed as a float; the age's seconds come from PostgreSQL's float
  (`date_part`), at most a unit in the last place from Python's exact `total_seconds()`,
  which moves a weight by ~1e-13 of itself; a total within 2e-9 of a half cent, or an
  exponent PostgreSQL would underflow on, is left to the engine;
- an inactivity rule after an event (`after_event`): its points when the last such event
  meeting the conditions is `inactive_days` old and no watched event (any page, screen or
  track event when none is watched) followed it within that span.

tests/scoring/test_simulate_sql.py holds the contributions equal to the engine's on
generated leads, events and rules.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Any, Final

import orjson
from django.conf import settings
from django.core.cache import cache
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
# How long a field's texts are topped up from the cache before they are read again in full.
VALUES_TTL: Final = 3600.0
_CENT: Final = Decimal("0.01")
_ZERO_CENTS: Final = Decimal("0.00")
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


def _text_sql(condition: SqlCondition) -> tuple[str, list[Any]]:
    """The field's JSON text as the answers hold it (`_ABSENT` when the field is absent)."""
    path: Any = condition.path[0] if len(condition.path) == 1 else list(condition.path)
    arrow = "->" if len(condition.path) == 1 else "#>"
    return f"COALESCE((e.{condition.column} {arrow} %s)::text, %s)", [path, _ABSENT]


def _field_texts(key: str, spec: SqlCondition) -> list[str] | None:
    """Every JSON text (`_ABSENT` for none) the field takes among the key's events of leads,
    or None past `VALUES_MAX`: read in full once per `VALUES_TTL`, and in between kept in the
    cache and topped up with the events stored since (by id, through each partition's primary
    key: ~6 ms instead of a scan of every event with the key, ~1 s at 2M events).

    Nothing here can make an answer wrong: a text is answered by the engine's own code
    whatever the events are, a text of an event gone since is never matched, and a text the
    cache misses (an event committed after one with a higher id was read, an orphan event
    given to a lead) is "not seen", so the leads that have it go to the engine."""
    cache_key = _texts_cache_key(key, spec)
    kept = cache.get(cache_key)
    entry = orjson.loads(kept) if kept is not None else None
    now = time.time()
    # nothing kept, or kept too long: a full read
    since: int | None = None
    known: list[str] = []
    read_at = now
    if entry is not None and now - entry[2] < VALUES_TTL:
        since, held, read_at = entry
        if held is None:
            return None
        known = held
    top, found = _texts_read(key, spec, since=since)
    if since is not None and top < since:  # the table was emptied and its ids restarted
        known, read_at = [], now
        top, found = _texts_read(key, spec, since=None)
    merged = sorted({*known, *found})
    texts = merged if len(merged) <= VALUES_MAX else None
    cache.set(cache_key, orjson.dumps([top, texts, read_at]), timeout=VALUES_TTL)
    return texts


def _texts_cache_key(key: str, spec: SqlCondition) -> str:
    name = f"{connection.settings_dict['NAME']}:{key}:{spec.column}:{'.'.join(spec.path)}"
    return "simulate:values:" + hashlib.sha256(name.encode()).hexdigest()


def _texts_read(key: str, spec: SqlCondition, *, since: int | None) -> tuple[int, list[str]]:
    """The events' highest id and (up to VALUES_MAX + 1 of) the field's distinct texts among
    the key's events of leads with a higher id than `since` (None: all), in one snapshot."""
    table = Event._meta.db_table
    where, params = _key_where(key)
    text, text_params = _text_sql(spec)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COALESCE((SELECT max(id) FROM {table}), 0), ARRAY("  # noqa: S608
            f"SELECT DISTINCT {text} FROM {table} e WHERE {where} "
            f"AND e.lead_id IS NOT NULL AND (%s::bigint IS NULL OR e.id > %s) LIMIT %s)",
            [*text_params, *params, since, since, VALUES_MAX + 1],
        )
        top, found = cursor.fetchone()
    return top, list(found)


def _answers(rule: engine.Rule, key: str) -> tuple[SqlCondition, ...] | None:
    """Each condition's answers for every value its field takes among the rule's events (None:
    too many values, or an answer the engine would raise for)."""
    found = []
    for condition in rule.conditions:
        head, _, rest = condition.field.partition(".")
        spec = SqlCondition(head, tuple(rest.split(".")), (), ())
        texts = _field_texts(key, spec)
        if texts is None:
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


def _conditions_sql(
    item: SqlRule, keyed: str, texts: dict[tuple[str, tuple[str, ...]], str] | None = None
) -> tuple[list[str], list[str], list[Any], list[Any]]:
    """The terms (ANDed) for an event that meets the rule's conditions, and for one whose
    every field value was answered, with their parameters; `texts`: a column already holding
    each field's text, by (column, path)."""
    hits, knowns = [keyed], ["TRUE"]
    hit_params: list[Any] = []
    known_params: list[Any] = []
    for condition in item.conditions:
        if texts is None:
            text, text_params = _text_sql(condition)
        else:
            text, text_params = texts[(condition.column, condition.path)], []
        hits.append(f"{text} = ANY(%s)")
        knowns.append(f"{text} = ANY(%s)")
        hit_params += [*text_params, list(condition.holds)]
        known_params += [*text_params, list(condition.seen)]
    return hits, knowns, hit_params, known_params


def _render(sql: str, params: Sequence[Any]) -> str:
    """`sql` with its parameters in place, quoted by the driver, and its % signs doubled: a
    fragment without parameters of its own, to place anywhere in a statement that has some
    (the behaviour pass's columns are written in one order and read in another)."""
    with connection.cursor() as cursor:
        text = cursor.mogrify(sql, list(params))
    return (text.decode() if isinstance(text, bytes) else text).replace("%", "%%")


@dataclass
class _Columns:
    """The behaviour pass's SQL, a clause list per level: `base` per event (`b`), `window`
    over a subject's events in time order (`c`), `sums` per subject (`g`), `totals` of the
    fading rules (`h`), and the subject's `cents` and `flags` (the reasons to leave it to
    the engine, ORed)."""

    base: list[str]
    window: list[str]
    sums: list[str]
    totals: list[str]
    cents: list[str]
    flags: list[str]


def _behaviour_sql(items: Sequence[SqlRule], scope: _Scope) -> str:
    """Per subject of `scope` (a lead, or an outcome) that the behaviour rules `items`, all
    of one event key, count events of or leave to the engine: the sum of their
    contributions in cents (each as the engine rounds it) and whether it is left to the
    engine (an exponent past PostgreSQL's range, a field value not answered, a track name
    only Python folds, a windowed cap that found its window full, a total near a half
    cent). One pass over the key's events for all its rules: one read, one sort, one
    aggregate (a pass per rule read the page events once per page rule). A part of
    `_statement`'s, its values in place.

    A cap of `max_times` counts a rule's first events in (timestamp, message id) order: a
    running count of the rule's events. A cap of `max_times` per `window_days` counts an
    event unless the `max_times`-th latest event it counted is inside the window
    (`engine.evaluate._cap`, a running choice). While it has counted every earlier event,
    that one is the event `max_times` places back, inside the window exactly when the
    window ending at some event of the rule holds more than `max_times` of them: so when
    no window does, the cap counts them all; a subject where one does ("crowded") is left
    to the engine.

    Each level is computed once per row: OFFSET 0 keeps the planner from folding a level
    into the next, which wrote a column out again wherever it is read (the name key, the
    hits and the age in every aggregate). One pass over every key's events together cost
    more than a pass per key: each window then spans all the events (docs/benchmarks.md)."""
    cols = _Columns([], [], [], [], [], [])
    key = items[0].key
    # the events read: the key as the indexes hold it (the track-name index), and for a
    # track key the track events whose name only Python can fold (their subject declined)
    reads = [_render(*_key_where(key))]
    name_key = "NULL::text"
    if key not in (_PAGE_KEY, _SCREEN_KEY):
        name_key = track_name_key("e.name")
        reads.append(f"(e.type = 'track' AND {name_key} IS NULL)")
        cols.base.append("(e.type = 'track' AND e.nk IS NULL) AS folded")
        cols.sums.append("bool_or(c.folded) AS folded")
        cols.flags.append("h.folded")
    if any(_ages(item.rule) for item in items):
        # an event's age: an exact interval, and in days as a float as the engine divides
        # (float seconds cost a quarter of exact numeric ones a row: ~50 ms less a range)
        cols.base.append("e.at - e.ts AS age")
        cols.window.append("GREATEST(date_part('epoch', b.age), 0) / 86400::float8 AS days")
    keyed = _render(*_nk_where(key))
    cols.base.append(f"{keyed} AS y")
    # each field a condition reads, as text, once an event (rules often share one), and
    # instead of the JSON it comes from
    fields = dict.fromkeys((c.column, c.path) for item in items for c in item.conditions)
    texts: dict[tuple[str, tuple[str, ...]], str] = {}
    extracted = []
    for j, (column, path) in enumerate(fields):
        texts[(column, path)] = f"e.f{j}"
        text, text_params = _text_sql(SqlCondition(column, path, (), ()))
        extracted.append(_render(f"{text} AS f{j}", text_params))
    for i, item in enumerate(items):
        hits, knowns, hit_params, known_params = _conditions_sql(item, keyed, texts)
        cols.base.append(f"{_render(' AND '.join(hits), hit_params)} AS h{i}")
        cols.base.append(f"{_render(' AND '.join(knowns), known_params)} AS k{i}")
        _rule_columns(cols, i, item.rule)
    cents = " + ".join(cols.cents)
    counted = " OR ".join(f"h.n{i} > 0" for i in range(len(items)))
    return f"""
        SELECT z.s, CASE WHEN z.declined THEN 0 ELSE z.cents END, z.declined
        FROM (
        SELECT h.s, {cents} AS cents, {" OR ".join(cols.flags) or "FALSE"} AS declined,
               {counted} AS counted
        FROM (
        SELECT g.*{"".join(", " + total for total in cols.totals)}
        FROM (
            SELECT c.s, {", ".join(cols.sums)}
            FROM (
                SELECT b.*{"".join(", " + column for column in cols.window)}
                FROM (
                    SELECT e.s, e.ts, e.id, {", ".join(cols.base)}
                    FROM (
                        SELECT {scope.subject} AS s, e.timestamp AS ts, e.message_id AS id,
                               {scope.at} AS at, e.type, {name_key} AS nk
                               {"".join(", " + text for text in extracted)}
                        FROM {scope.source}
                        WHERE ({" OR ".join(reads)}) AND {_render(scope.where, scope.params)}
                        OFFSET 0
                    ) e
                    OFFSET 0
                ) b
                WINDOW w AS (PARTITION BY b.s ORDER BY b.ts, b.id COLLATE "C"
                             ROWS UNBOUNDED PRECEDING)
            ) c
            GROUP BY c.s
        ) g) h) z
        -- a subject with nothing counted and nothing to decline for adds nothing: not sent
        WHERE z.declined OR z.counted
    """  # noqa: S608 (fixed names and fragments; every value is quoted by the driver)


def _nk_where(key: str) -> tuple[str, list[Any]]:
    """`_key_where` over the behaviour pass's rows, their track name's key read once (`nk`)."""
    if key in (_PAGE_KEY, _SCREEN_KEY):
        return _key_where(key)
    return "(e.type = 'track' AND e.nk = %s)", [key]


def _ages(rule: engine.Rule) -> bool:
    return rule.expire_after_days is not None or rule.half_life_days is not None


def _rule_columns(cols: _Columns, i: int, rule: engine.Rule) -> None:
    """Rule `i`'s columns at each level of `_behaviour_sql`: which of the key's events (`y`)
    count (`h{i}`: those meeting its conditions), its count `n{i}`, its fading weights `w{i}`
    (`t{i}` points times them, `d{i}` their cents), and its cents and flags."""
    counted = [f"c.h{i}"]
    times, window = rule.max_times, rule.window_days
    span = _days(window) if window is not None else None
    if times is not None and times < 1:
        counted.append("FALSE")
    elif times is not None and span is None:
        cols.window.append(f"count(*) FILTER (WHERE b.h{i}) OVER w AS r{i}")
        counted.append(f"c.r{i} <= {int(times)}")
    elif times is not None and span is not None and span > timedelta(0):
        # the events of the rule in (timestamp - window, timestamp], at microseconds
        inside, inside_params = _interval_sql(span - timedelta(microseconds=1))
        cols.window.append(
            f"count(*) FILTER (WHERE b.h{i}) OVER (PARTITION BY b.s ORDER BY b.ts RANGE "
            f"BETWEEN {_render(inside, inside_params)} PRECEDING AND CURRENT ROW) AS q{i}"
        )
        cols.sums.append(f"COALESCE(bool_or(c.h{i} AND c.q{i} > {int(times)}), FALSE) AS x{i}")
        cols.flags.append(f"h.x{i}")
    if rule.expire_after_days is not None:
        # (an event from the future has a negative age: it counts, as its age 0 does)
        expire, expire_params = _interval_sql(_days(rule.expire_after_days))
        counted.append(f"c.age <= {_render(expire, expire_params)}")
    where = " AND ".join(counted)
    cols.sums.append(f"count(*) FILTER (WHERE {where}) AS n{i}")
    cols.sums.append(f"COALESCE(bool_and(c.k{i}) FILTER (WHERE c.y), TRUE) AS k{i}")
    cols.flags.append(f"NOT h.k{i}")
    if rule.half_life_days is None:
        cols.cents.append(_render(f"round(%s::numeric * h.n{i}, 2)", [rule.points]))
        return
    halvings = _render("c.days / %s::float8", [float(rule.half_life_days)])
    weight = (
        f"CASE WHEN {halvings} > {_MAX_HALVINGS} THEN 0 ELSE power(0.5::float8, {halvings}) END"
    )
    cols.sums.append(f"COALESCE(sum({weight}) FILTER (WHERE {where}), 0) AS w{i}")
    cols.sums.append(
        f"COALESCE(bool_or({halvings} > {_MAX_HALVINGS}) FILTER (WHERE {where}), FALSE) AS u{i}"
    )
    total = _render(f"%s::float8 * g.w{i}", [float(rule.points)])
    cols.totals += [f"{total} AS t{i}", f"floor(abs({total}) * 100 + 0.5) AS d{i}"]
    cents, flag = _fading_cents(f"h.n{i}", f"h.t{i}", f"h.d{i}")
    cols.cents.append(cents)
    cols.flags += [f"h.u{i}", flag]


def _fading_cents(n: str, total: str, hundred: str) -> tuple[str, str]:
    """A fading contribution's cents, rounded as the engine rounds them, and whether it is
    left to the engine, over the number of counted events `n`, points × their summed weights
    `total` (a float) and its cents `hundred` (a float): `floor(|total| × 100 + 0.5)`, the
    same IEEE operations as the refresh's (`fading.py`); a total within 2e-9 of a half cent
    (where the float cannot say how the engine's exact rounding goes) or too large for the
    float's cents to be whole is left to the engine. (Not fading: points × count, rounded
    half away from zero in exact numerics, as the engine's `Decimal.quantize`.)"""
    cents = (
        f"CASE WHEN {n} > 0 AND {hundred} < {_HUNDRED_MAX} "
        f"THEN (sign({total}) * {hundred})::int8 * 0.01 ELSE 0 END"
    )
    low = f"({hundred} / 100 - 0.005::float8)"
    high = f"({hundred} / 100 + 0.005::float8)"
    near = (
        f"(abs({total}) >= {high} * {1 - _SLACK!r}::float8"
        f" OR ({low} > 0 AND abs({total}) <= {low} * {1 + _SLACK!r}::float8))"
    )
    return cents, f"({n} > 0 AND ({hundred} >= {_HUNDRED_MAX} OR {near}))"


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
    for the leads with ids in [low, high] that have any, and the leads left to the engine.
    The behaviour rules are counted over columns (`simulate_columns`: one read of the
    range's events, the rules applied by numpy) where it takes them, else with the other
    rules in one statement, summed per lead in PostgreSQL (`SCORING_SIMULATE_COLUMNS`
    False: always the statement)."""
    return _counted(
        rules,
        lambda columns, items: columns.contributions(items, low=low, high=high, now=now),
        lambda items: _range_statement(items, low=low, high=high, now=now),
    )


_Answer = tuple[dict[int, Decimal], set[int]]


def _counted(
    rules: Sequence[SqlRule],
    over_columns: Callable[[Any, Sequence[SqlRule]], _Answer | None],
    in_statement: Callable[[Sequence[SqlRule]], _Answer],
) -> _Answer:
    """The behaviour rules counted over columns (`simulate_columns`) where it takes them and
    the rest in the statement, summed per subject (a subject either leaves to the engine is
    the engine's); else every rule in the statement."""
    behaviour = [item for item in rules if item.rule.kind != "inactivity"]
    if behaviour and settings.SCORING_SIMULATE_COLUMNS:
        from . import simulate_columns  # noqa: PLC0415 (it builds on this module's parts)

        if simulate_columns.available(behaviour):
            counted = over_columns(simulate_columns, behaviour)
            if counted is not None:
                rest = in_statement([item for item in rules if item.rule.kind == "inactivity"])
                declined = counted[1] | rest[1]
                found: dict[int, Decimal] = {}
                for cents, _ in (counted, rest):
                    for subject, value in cents.items():
                        if subject not in declined:
                            found[subject] = found.get(subject, _ZERO_CENTS) + value
                return found, declined
    return in_statement(rules)


def _range_statement(
    rules: Sequence[SqlRule], *, low: int, high: int, now: datetime
) -> tuple[dict[int, Decimal], set[int]]:
    """`contributions` in one statement for all `rules`."""
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
    return _counted(
        rules,
        lambda columns, items: columns.contributions_at(items, subjects),
        lambda items: _subjects_statement(items, subjects),
    )


def _subjects_statement(
    rules: Sequence[SqlRule], subjects: Sequence[tuple[int, int, datetime, datetime | None]]
) -> tuple[dict[int, Decimal], set[int]]:
    """`contributions_at` in one statement for all `rules`."""
    if not subjects or not rules:
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
    params = list(with_params)
    by_key: dict[str, list[SqlRule]] = {}
    for item in rules:
        if item.rule.kind != "inactivity":
            by_key.setdefault(item.key, []).append(item)
    parts = [f"({_behaviour_sql(items, scope)})" for items in by_key.values()]
    for item in rules:
        if item.rule.kind == "inactivity":
            sql, part_params = _inactive_sql(item, scope)
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
