"""The simulator's behaviour rules counted over columns: PostgreSQL reads a range's events
once, numpy applies the rules.

`simulate_sql` counts a draft's behaviour rules inside PostgreSQL, one pass per event key
with window functions and aggregates per rule. Reading the events is about a fifth of that
statement; the rest is PostgreSQL evaluating every rule's expressions per event
(docs/benchmarks.md, eighteenth session). Here one statement per range of leads reads the
events of every key the rules count and sends five integers per event as PostgreSQL's
binary COPY, which numpy puts in (lead, timestamp) order:

- the lead (or a past outcome), and the moment it is scored at;
- the timestamp, as PostgreSQL keeps it (microseconds since 2000, an int8 in the binary
  format: exact, and nothing to compute);
- which of the rules' keys the event has, or that it is a track event whose name only
  Python can fold (its lead goes to the engine, as in `simulate_sql`);
- for each rule with conditions: whether the event meets them, and whether one of its
  field values was not answered (its lead goes to the engine). The conditions are
  answered by the engine's own operator code, as in `simulate_sql._answers`.

numpy then applies each rule to the events of its key. It keeps the arithmetic of
`simulate_sql._behaviour_sql`, which tests/scoring/test_simulate_sql.py holds equal to the
engine:
- caps count the first events in that order;
- a windowed cap sends a lead to the engine when a window holds more than the cap;
- expiry compares exact microseconds.

Fading uses the engine's own float operations in its order: `age.total_seconds() / 86400 /
half_life`, where an age's seconds are its integer microseconds divided by 10**6 (both
sides exact doubles, so the same quotient), and then `0.5 ** days`. The weights are summed
per lead in event order, and rounded to cents with `simulate_sql._fading_cents`'s checks: a
total within 2e-9 of a half cent goes to the engine. Points that do not fade are counted in
whole cents, exactly.

A draft this pass cannot take (numpy missing, more rules than the columns hold, points
that are not whole cents, a range whose times do not fit the window arithmetic) is left to
`simulate_sql`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from io import BytesIO
from typing import TYPE_CHECKING, Any, Final

from django.db import connection

from mqlapp.leads.event_store import track_name_key
from mqlapp.leads.models import Event

from ..engine.conditions import _PAGE_KEY, _SCREEN_KEY
from ..engine.evaluate import _SECONDS_PER_DAY, _days
from ..models import LeadScore
from .fading import _HUNDRED_MAX, _SLACK
from .simulate_sql import (
    SqlCondition,
    SqlRule,
    _conditions_sql,
    _render,
    _text_sql,
)

if TYPE_CHECKING:
    import numpy as np

try:
    import numpy
except ImportError:  # pragma: no cover (a dependency; without it simulate_sql counts)
    numpy = None  # type: ignore[assignment]

# Rules one pass takes: two bits each of the conditions' column (a signed 64-bit integer).
RULES_MAX: Final = 31
_FOLDED: Final = -1  # the key column of a track event whose name only Python folds
_NONE: Final = -2  # of an event of no key the rules count (not sent)
# PostgreSQL's timestamps are int8 microseconds in binary COPY (from 2000; only differences
# are taken here), its infinities the int8's ends
_INFINITIES: Final = (-(2**63), 2**63 - 1)
_MICROSECOND: Final = timedelta(microseconds=1)
# PostgreSQL's binary COPY: an 11-byte signature, flags and the header extension's length
_SIGNATURE: Final = b"PGCOPY\n\xff\r\n\x00"
_HEADER: Final = 19
_TRAILER: Final = b"\xff\xff"
# a row: its field count, then each field's length and its big-endian int8
_FIELDS: Final = ("subject", "moment", "at", "key", "bits")
_INT8: Final = 8  # a field's length in bytes
_ROW_SIZE: Final = 2 + (4 + _INT8) * len(_FIELDS)


def available(items: Sequence[SqlRule]) -> bool:
    """Whether this pass counts these behaviour rules (else `simulate_sql` does)."""
    if numpy is None or connection.vendor != "postgresql" or not items:
        return False
    if len(items) > RULES_MAX:
        return False
    # a contribution that does not fade is points × count, counted in integers
    return all(item.rule.half_life_days is not None or _scaled(item.rule.points) for item in items)


# Points that do not fade are counted as integers of at most this many decimals, and below
# this size (points × a lead's events stay far inside int64).
_DECIMALS_MAX: Final = 8
_CENT_DECIMALS: Final = 2
_POINTS_MAX: Final = Decimal(10) ** 9


def _scaled(points: Any) -> tuple[int, int] | None:
    """`points` as an integer and its number of decimals (at least 2), or None."""
    if not isinstance(points, Decimal) or not points.is_finite() or abs(points) >= _POINTS_MAX:
        return None
    exponent = points.as_tuple().exponent
    decimals = max(-exponent if isinstance(exponent, int) else 0, _CENT_DECIMALS)
    if decimals > _DECIMALS_MAX:
        return None
    return int(points.scaleb(decimals)), decimals


def _counted_cents(points: Any, count: np.ndarray) -> np.ndarray | None:
    """round(points × count, 2) in cents, half away from zero (the engine's quantize); None
    where a product would not fit in int64."""
    scaled = _scaled(points)
    if scaled is None:  # `available` let no such rule through
        raise ValueError(f"points {points!r} are not counted over columns")
    value, decimals = scaled
    if abs(value) * (int(count.max()) if count.size else 0) >= 2**62:
        return None
    product = count.astype(numpy.int64) * value
    if decimals == _CENT_DECIMALS:
        return product
    unit = 10 ** (decimals - _CENT_DECIMALS)
    rounded: np.ndarray = numpy.sign(product) * ((numpy.abs(product) + unit // 2) // unit)
    return rounded


def contributions(
    items: Sequence[SqlRule], *, low: int, high: int, now: datetime
) -> tuple[dict[int, Decimal], set[int]] | None:
    """The summed contributions (in cents, as the engine rounds each) of the behaviour rules
    `items` at `now` for the leads with ids in [low, high] that have any, and the leads left
    to the engine; None when this range is left to `simulate_sql`."""
    # The few leads of the range with an epoch (a recycle), read first: most ranges have
    # none, and then no event is joined with them.
    epochs = list(
        LeadScore.objects.filter(lead_id__gte=low, lead_id__lte=high, epoch__isnull=False)
        .order_by("lead_id")
        .values_list("lead_id", "epoch")
    )
    table = Event._meta.db_table
    source = f"{table} e WHERE e.lead_id BETWEEN %s AND %s"
    params: list[Any] = [now, low, high]
    if epochs:
        source = (
            f"{table} e LEFT JOIN unnest(%s::bigint[], %s::timestamptz[]) AS d(lead_id, epoch) "
            "ON d.lead_id = e.lead_id "
            "WHERE e.lead_id BETWEEN %s AND %s AND (d.epoch IS NULL OR e.timestamp >= d.epoch)"
        )
        ids, moments = (list(column) for column in zip(*epochs, strict=True))
        params = [now, ids, moments, low, high]
    return _counted(items, ("e.lead_id", "%s::timestamptz"), source, params=params)


def contributions_at(
    items: Sequence[SqlRule], subjects: Sequence[tuple[int, int, datetime, datetime | None]]
) -> tuple[dict[int, Decimal], set[int]] | None:
    """`contributions` for each subject (key, lead id, moment, score epoch): the lead's
    events up to that moment and from that epoch on, scored at that moment (the backtest's
    outcomes, each at its handoff time), by key; None: left to `simulate_sql`."""
    if not subjects:
        return {}, set()
    keys, leads, moments, epochs = (list(column) for column in zip(*subjects, strict=True))
    # each subject's events read through the (lead, timestamp) index, a subject at a time
    source = f"""
        unnest(%s::bigint[], %s::bigint[], %s::timestamptz[], %s::timestamptz[])
            AS o(key, lead_id, at, epoch)
        CROSS JOIN LATERAL (
            SELECT * FROM {Event._meta.db_table} e
            WHERE e.lead_id = o.lead_id AND e.timestamp <= o.at
              AND (o.epoch IS NULL OR e.timestamp >= o.epoch) AND {{reads}}
            OFFSET 0
        ) e
        WHERE TRUE
    """  # noqa: S608 (a fixed name; every value is quoted by the driver)
    return _counted(items, ("o.key", "o.at"), source, params=[keys, leads, moments, epochs])


def _counted(
    items: Sequence[SqlRule], selected: tuple[str, str], source: str, *, params: list[Any]
) -> tuple[dict[int, Decimal], set[int]] | None:
    """`selected`: the subject and its moment as SQL, over `source`'s rows."""
    keys = list(dict.fromkeys(item.key for item in items))
    columns = _columns(_read(items, keys, selected, source, params=params))
    if columns is None:
        return None
    return _apply(items, keys, columns)


def _key_code(key: str, keys: list[str]) -> int:
    return keys.index(key)


def _read(
    items: Sequence[SqlRule], keys: list[str], selected: tuple[str, str], source: str, *,
    params: list[Any],
) -> bytes:  # fmt: skip
    """The events of `keys` that `source` (a FROM … WHERE … over events `e`, with `{reads}`
    where it filters them by key) gives each subject, in no order (`_columns` sorts them),
    as binary COPY rows of (subject, moment, timestamp, key, condition bits); `selected`:
    the subject and its moment as SQL.

    Each level computes what the next reads once a row (OFFSET 0 keeps the planner from
    folding them): the track name's key only for track events (`lower()` is a third of
    reading an event; with track keys only, the filter computes it again, so that the
    track-name index serves a draft with one track rule), a condition's field text only
    for the events of the keys whose rules read it."""
    subject, moment = selected
    tracks = [key for key in keys if key not in (_PAGE_KEY, _SCREEN_KEY)]
    code = ["CASE"]
    for key in keys:
        if key in (_PAGE_KEY, _SCREEN_KEY):
            where = "e.type = 'page'" if key == _PAGE_KEY else "e.type = 'screen'"
            code.append(f"WHEN {where} THEN {_key_code(key, keys)}")
    if tracks:
        code.append(f"WHEN e.type = 'track' AND e.nk IS NULL THEN {_FOLDED}")
        for key in tracks:
            code.append(_render(f"WHEN e.nk = %s THEN {_key_code(key, keys)}", [key]))
    code.append(f"ELSE {_NONE} END")
    # each field a condition reads, as text, once an event of a key whose rules read it
    readers: dict[tuple[str, tuple[str, ...]], set[int]] = {}
    for item in items:
        for condition in item.conditions:
            field = (condition.column, condition.path)
            readers.setdefault(field, set()).add(_key_code(item.key, keys))
    json_columns = sorted({column for column, _ in readers})
    texts: dict[tuple[str, tuple[str, ...]], str] = {}
    extracted = []
    for j, (field, codes) in enumerate(readers.items()):
        texts[field] = f"e.f{j}"
        text, text_params = _text_sql(SqlCondition(field[0], field[1], (), ()))
        extracted.append(
            _render(f"CASE WHEN e.k IN ({', '.join(map(str, sorted(codes)))}) THEN {text} "
                    f"END AS f{j}", text_params)
        )  # fmt: skip
    bits = []
    for i, item in enumerate(items):
        if not item.conditions:
            continue
        hits, knowns, hit_params, known_params = _conditions_sql(item, "TRUE", texts)
        bits.append(
            f"CASE WHEN e.k = {_key_code(item.key, keys)} THEN "
            f"(CASE WHEN {_render(' AND '.join(hits), hit_params)} THEN {1 << (2 * i)}::int8 "
            f"ELSE 0 END) + (CASE WHEN {_render(' AND '.join(knowns), known_params)} THEN 0 "
            f"ELSE {1 << (2 * i + 1)}::int8 END) ELSE 0 END"
        )
    name_key = (
        f"CASE WHEN e.type = 'track' THEN {track_name_key('e.name')} END" if tracks else "NULL"
    )
    filtered = _filter(keys, tracks)
    if "{reads}" in source:
        source = source.replace("{reads}", filtered)
    else:
        source += f" AND {filtered}"
    carried = "".join(", e." + name for name in json_columns)
    sql = f"""
        COPY (
            SELECT e.s, e.at, e.timestamp, e.k, {" + ".join(bits) or "0"}::int8 AS bits
            FROM (
                SELECT e.s, e.at, e.timestamp, e.k
                       {"".join(", " + text for text in extracted)}
                FROM (
                    SELECT e.s, e.at, e.timestamp, {" ".join(code)}::int8 AS k{carried}
                    FROM (
                        SELECT {subject} AS s, {moment} AS at, e.timestamp, e.type,
                               {name_key}::text AS nk{carried}
                        FROM {source}
                        OFFSET 0
                    ) e
                    OFFSET 0
                ) e
                WHERE e.k <> {_NONE}
                OFFSET 0
            ) e
        ) TO STDOUT (FORMAT binary)
    """  # noqa: S608 (fixed names and fragments; every value is quoted by the driver)
    out = BytesIO()
    with connection.cursor() as cursor:
        # the fragments' % signs are doubled for a statement with parameters, and COPY
        # takes none: the driver writes the whole statement out first
        text = cursor.mogrify(sql, params)
        cursor.copy_expert(text.decode() if isinstance(text, bytes) else text, out)
    return out.getvalue()


def _filter(keys: list[str], tracks: list[str]) -> str:
    """Which events `_read` reads: the keys' own, as cheaply as they are found."""
    if len(tracks) == len(keys):
        # track keys only: their events as the track-name index finds them (a draft's one
        # track rule reads its own events, not every track event of the range)
        nk = track_name_key("e.name")
        return _render(f"e.type = 'track' AND ({nk} = ANY(%s) OR {nk} IS NULL)", [tracks])
    # with page or screen events, most of the range is read anyway: by type, the track
    # name's key taken once, for the track events
    types = {_PAGE_KEY: "page", _SCREEN_KEY: "screen"}
    read = sorted({types.get(key, "track") for key in keys})
    return "e.type IN (" + ", ".join(f"'{name}'" for name in read) + ")"


def _columns(raw: bytes) -> dict[str, np.ndarray] | None:
    """The COPY's rows as native int64 columns (None: not the shape asked for)."""
    rows, rest = divmod(len(raw) - _HEADER - len(_TRAILER), _ROW_SIZE)
    if rest or rows < 0 or not raw.startswith(_SIGNATURE) or not raw.endswith(_TRAILER):
        return None
    layout = [("n", ">i2")]
    for name in _FIELDS:
        layout += [(f"{name}_size", ">i4"), (name, ">i8")]
    table = numpy.frombuffer(raw, dtype=numpy.dtype(layout), count=rows, offset=_HEADER)
    if not (table["n"] == len(_FIELDS)).all():
        return None
    if not all((table[f"{name}_size"] == _INT8).all() for name in _FIELDS):
        return None  # a NULL (length -1) or another width
    if any(numpy.isin(table[name], _INFINITIES).any() for name in ("at", "moment")):
        return None  # 'infinity': the engine's datetime has none
    columns = {name: table[name].astype(numpy.int64) for name in _FIELDS}
    # In (subject, timestamp) order, a stable sort (numpy's, ~10 ms for a range's 100,000
    # events, where PostgreSQL's sort of the rows took ~90 ms of its ~370). Events of one
    # subject at the same microsecond stay in the order they came; the engine orders them
    # by message id, and nothing here can tell them apart: a rule weighs its events by
    # their timestamp alone, so whichever of them a cap keeps, and in whichever order they
    # are summed, the weights and the cents are the same.
    order = numpy.lexsort((columns["at"], columns["subject"]))
    return {name: column[order] for name, column in columns.items()}


def _apply(
    items: Sequence[SqlRule], keys: list[str], columns: dict[str, np.ndarray]
) -> tuple[dict[int, Decimal], set[int]] | None:
    lead, at, key, bits = columns["subject"], columns["at"], columns["key"], columns["bits"]
    moment = columns["moment"]
    if not lead.size:
        return {}, set()
    starts = numpy.flatnonzero(numpy.r_[True, lead[1:] != lead[:-1]])
    subject = numpy.cumsum(numpy.r_[True, lead[1:] != lead[:-1]]) - 1  # a lead's index
    leads = lead[starts]
    size = leads.size
    declined = numpy.zeros(size, dtype=bool)
    counted = numpy.zeros(size, dtype=bool)
    cents = numpy.zeros(size, dtype=numpy.int64)
    declined[subject[key == _FOLDED]] = True
    for i, item in enumerate(items):
        mask = key == _key_code(item.key, keys)
        if item.conditions:
            declined[subject[mask & ((bits >> (2 * i + 1)) & 1).astype(bool)]] = True
            mask &= ((bits >> (2 * i)) & 1).astype(bool)
        found = _rule(item, numpy.flatnonzero(mask), subject, at, moment, size=size)
        if found is None:
            return None
        rule_cents, rule_counted, rule_declined = found
        cents += rule_cents
        counted |= rule_counted
        declined |= rule_declined
    found_cents: dict[int, Decimal] = {}
    left: set[int] = set()
    for index in numpy.flatnonzero(declined | counted).tolist():
        if declined[index]:
            left.add(int(leads[index]))
        else:
            found_cents[int(leads[index])] = Decimal(int(cents[index])).scaleb(-2)
    return found_cents, left


def _rule(
    item: SqlRule, idx: np.ndarray, subject: np.ndarray, at: np.ndarray, moment: np.ndarray,
    *, size: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:  # fmt: skip
    """One rule over its events (`idx`, in order): its cents, whether it counted any event,
    and the leads it leaves to the engine, per lead index."""
    rule = item.rule
    zero_cents = numpy.zeros(size, dtype=numpy.int64)
    declined = numpy.zeros(size, dtype=bool)
    if not idx.size:
        return zero_cents, numpy.zeros(size, dtype=bool), declined
    who, when, now = subject[idx], at[idx], moment[idx]
    keep = numpy.ones(idx.size, dtype=bool)
    times, window = rule.max_times, rule.window_days
    span = _days(window) if window is not None else None
    if times is not None and times < 1:
        keep[:] = False
    elif times is not None and span is None:
        # the first `times` of the lead's events: a running count within each lead
        position = numpy.arange(idx.size)
        first = numpy.maximum.accumulate(
            numpy.where(numpy.r_[True, who[1:] != who[:-1]], position, 0)
        )
        keep = position - first < times
    elif times is not None and span is not None and span > timedelta(0):
        # the rule's events in (timestamp - window, timestamp], peers included: a lead where
        # one window holds more than `times` is the engine's (its running choice)
        width = span // _MICROSECOND
        low, high = int(when.min()), int(when.max())
        stride = high - low + width + 1
        if (size + 1) * stride >= 2**62:
            return None  # times too far apart for one int64 key: simulate_sql counts
        ordered = who * stride + (when - low)
        inside = numpy.searchsorted(ordered, ordered, side="right") - numpy.searchsorted(
            ordered, ordered - (width - 1), side="left"
        )
        declined[who[inside > times]] = True
    if rule.expire_after_days is not None:
        # (an event from the future has a negative age: it counts, as its age 0 does)
        keep &= now - when <= _days(rule.expire_after_days) // _MICROSECOND
    kept_who = who[keep]
    count = numpy.bincount(kept_who, minlength=size)
    counted = count > 0
    if rule.half_life_days is None:
        rule_cents = _counted_cents(rule.points, count)
        return None if rule_cents is None else (rule_cents, counted, declined)
    age = numpy.maximum(now[keep] - when[keep], 0)
    days = age.astype(numpy.float64) / 1e6 / float(_SECONDS_PER_DAY) / float(rule.half_life_days)
    weights = numpy.bincount(kept_who, weights=0.5**days, minlength=size)
    total = float(rule.points) * weights
    hundred = numpy.floor(numpy.abs(total) * 100 + 0.5)
    exact = hundred < _HUNDRED_MAX
    rule_cents = numpy.where(
        counted & exact, numpy.sign(total) * numpy.where(exact, hundred, 0), 0
    ).astype(numpy.int64)
    low_edge = hundred / 100 - 0.005
    near = (numpy.abs(total) >= (hundred / 100 + 0.005) * (1 - _SLACK)) | (
        (low_edge > 0) & (numpy.abs(total) <= low_edge * (1 + _SLACK))
    )
    declined |= counted & (~exact | near)
    return rule_cents, counted, declined
