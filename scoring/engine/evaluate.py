"""`evaluate`: a lead's score from its facts, the rules and a caller-supplied `now`."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Context, Decimal, localcontext
from functools import lru_cache
from typing import Any, Final

from scoring.engine.conditions import (
    condition_holds,
    event_field,
    event_key,
    lead_field,
    name_key,
)
from scoring.engine.facts import Contribution, EventFact, LeadFacts, Rule, Score

__all__ = [
    "Fade",
    "FadeState",
    "evaluate",
    "evaluate_state",
    "evaluate_until",
    "events_ordered",
    "next_change",
    "qualifies",
    "refade",
]

_CENT: Final = Decimal("0.01")
_ZERO: Final = Decimal("0.00")
# Pinned so a caller's decimal context (precision, traps) can never change a score.
_CONTEXT: Final = Context(prec=28, rounding=ROUND_HALF_EVEN)
_SECONDS_PER_DAY: Final = 86_400
# timedelta tops out near 1e9 days; anything this long is "forever" for scoring.
_MAX_DAYS: Final = Decimal(1_000_000)
_NOTHING: Final = (0, _ZERO)
_NO_TIME: Final = timedelta(0)

_Events = Sequence[EventFact]
_Result = tuple[int, Decimal]

# When a score next changes by time alone (`next_change`):
# 0.5 ** x is a float, so an event's weight becomes 0 (and the event stops counting) only
# past this many half-lives (0.5 ** 1075 underflows); the weight is never 0 before.
_HALVINGS_TO_ZERO: Final = Decimal(1074)
# A faded total's float error is below 1e-12 of its value (each weight is one float power);
# a rounding boundary is treated as this much nearer, so the answer is never late.
_SLACK: Final = Decimal("1e-9")
_HALF_CENT: Final = Decimal("0.005")
_EARLY: Final = timedelta(milliseconds=1)


@dataclass(frozen=True)
class Fade:
    """A fading rule's sums at the moment a score was computed: its events from the future
    (weight 1 each) and the summed weights of the others (each 0.5^(age / half-life))."""

    rule_id: int
    future: int
    weights: Decimal


@dataclass(frozen=True)
class FadeState:
    """What `refade` needs to move a score forward in time without its events: the fading
    rules' sums, and the first moment anything else can change (`discrete`: an expiry, an
    event from the future happening, a weight underflowing, an inactivity deadline; None:
    never)."""

    discrete: datetime | None
    fades: tuple[Fade, ...]


class _Until:
    """The earliest moment after `now` at which some rule's contribution can change (None:
    never by time alone); each rule lowers it. Only `next_change` passes one. `discrete`
    leaves out the moments a fading sum crosses a cent (those `refade` recomputes), and
    `fades` keeps each fading rule's sums."""

    __slots__ = ("at", "discrete", "fades")

    def __init__(self) -> None:
        self.at: datetime | None = None
        self.discrete: datetime | None = None
        self.fades: list[Fade] = []

    def lower(self, moment: datetime | None) -> None:
        if moment is not None and (self.at is None or moment < self.at):
            self.at = moment
        if moment is not None and (self.discrete is None or moment < self.discrete):
            self.discrete = moment

    def crossing(self, moment: datetime | None) -> None:
        """A fading sum's next cent: lowers `at` only."""
        if moment is not None and (self.at is None or moment < self.at):
            self.at = moment

    def state(self) -> FadeState:
        return FadeState(self.discrete, tuple(self.fades))

    def not_before(self, now: datetime) -> datetime | None:
        """The answer: a moment before `now` (a weight about to underflow) is `now`."""
        return self.at if self.at is None or self.at >= now else now


def _plus(moment: datetime, span: timedelta) -> datetime | None:
    """`moment + span`, or None past the last datetime (no `now` ever reaches it)."""
    try:
        return moment + span
    except OverflowError:
        return None


def _require_aware(moment: datetime, what: str) -> None:
    if moment.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got {moment!r}")


@lru_cache(maxsize=1024)
def _days(days: Decimal) -> timedelta:
    micros = min(days, _MAX_DAYS) * _SECONDS_PER_DAY * 1_000_000
    return timedelta(microseconds=int(micros.to_integral_value()))


def _cents(points: Decimal) -> Decimal:
    return points.quantize(_CENT, rounding=ROUND_HALF_UP)


def _prepare(events: Iterable[EventFact]) -> list[EventFact]:
    """One copy per message id (`_first_copy`), sorted by (timestamp, id): a total order,
    since ids are then distinct."""
    kept: dict[str, EventFact] = {}
    for event in events:
        if event.timestamp.utcoffset() is None:  # (no message built for the common case)
            _require_aware(event.timestamp, f"timestamp of event {event.id!r}")
        seen = kept.get(event.id)
        if seen is None or (event is not seen and _first_copy(event, seen)):
            kept[event.id] = event
    return sorted(kept.values(), key=_time_order)


def _first_copy(event: EventFact, seen: EventFact) -> bool:
    """True when `event` is the copy of its message id that counts rather than `seen`: the
    earliest timestamp, then the smallest rest of the fact (type, name, properties,
    context, UTC offset), so the copies alone decide, never the order they come in."""
    if event.timestamp != seen.timestamp:
        return event.timestamp < seen.timestamp
    return _rest(event) < _rest(seen)


def _rest(event: EventFact) -> tuple[Any, ...]:
    return (
        _canonical(event.type),
        _canonical(event.name),
        _canonical(event.properties),
        _canonical(event.context),
        event.timestamp.utcoffset(),  # the same moment written in another zone: last
    )


# The scalar kinds in key order (bool before int: a bool is an int to isinstance), each
# with its tag and its comparable form; floats and decimals by their exact text, which is
# total even for NaN and keeps 1.0 and 1.00, or 0.0 and -0.0, apart.
_SCALARS: Final[tuple[tuple[type, str, Callable[[Any], Any]], ...]] = (
    (bool, "1", bool),
    (int, "2", int),
    (float, "3", lambda value: repr(float(value))),
    (Decimal, "4", str),
    (str, "5", str),
)


def _canonical(value: Any) -> tuple[Any, ...]:
    """A key that orders any two values, equal only for the same data: a tag for the kind of
    value (null < boolean < integer < float < decimal < text < array < object < other),
    then the value; objects by their items sorted by key; other objects by type and repr."""
    if value is None:
        return ("0",)
    for kind, tag, comparable in _SCALARS:
        if isinstance(value, kind):
            return (tag, comparable(value))
    if isinstance(value, list | tuple):
        return ("6", type(value).__name__, tuple(_canonical(item) for item in value))
    if isinstance(value, Mapping):
        return ("7", tuple(sorted((_canonical(k), _canonical(v)) for k, v in value.items())))
    kind = type(value)
    return ("8", f"{kind.__module__}.{kind.__qualname__}", repr(value))


def _time_order(event: EventFact) -> tuple[datetime, str]:
    return event.timestamp, event.id


def events_ordered(events: Iterable[EventFact]) -> list[EventFact]:
    """The events as every rule reads them: one copy per message id (the earliest; at one
    moment, the smallest by type, name, properties and context), in (timestamp, message id)
    order. Any order of `events`, and any number of copies, gives the same list."""
    return _prepare(events)


def _event_conditions_hold(rule: Rule, event: EventFact) -> bool:
    return all(condition_holds(c, event_field(event, c.field)) for c in rule.conditions)


def _cap(events: _Events, max_times: int | None, window_days: Decimal | None) -> _Events:
    """The matching events a cap lets count; `events` is in time order."""
    if max_times is None:
        return events
    if max_times < 1:
        return ()
    if window_days is None:
        return events[:max_times]
    window = _days(window_days)
    counted: list[EventFact] = []
    for event in events:
        # Counted events are in time order, so the ones inside the window are a suffix of
        # `counted`: the window is full exactly when the max_times-th latest is inside it.
        full = (
            len(counted) >= max_times and counted[-max_times].timestamp > event.timestamp - window
        )
        if not full:
            counted.append(event)
    return counted


def _behavior(
    rule: Rule,
    by_key: dict[str | None, list[EventFact]],
    now: datetime,
    until: _Until | None = None,
) -> _Result:
    if not rule.event:
        return _NOTHING
    candidates = by_key.get(name_key(rule.event))
    if not candidates:
        return _NOTHING
    if rule.conditions:
        candidates = [e for e in candidates if _event_conditions_hold(rule, e)]
    counted = _cap(candidates, rule.max_times, rule.window_days)
    if rule.expire_after_days is None and rule.half_life_days is None:
        return len(counted), rule.points * len(counted)  # every counted event at full weight
    return _faded(rule, counted, now, until)


def _faded(rule: Rule, counted: _Events, now: datetime, until: _Until | None = None) -> _Result:
    """Fading: points × 0.5^(age/half_life), or 0 once older than expire_after_days; the age
    of an event from the future is 0. An event whose weight is 0 does not count.

    With `until`, the same pass also lowers it to when this contribution can next change
    (`_fading_next`)."""
    expire = None if rule.expire_after_days is None else _days(rule.expire_after_days)
    half_life = None
    if rule.half_life_days is not None:
        if rule.half_life_days <= 0:
            raise ValueError(f"rule {rule.id}: half_life_days must be > 0")
        half_life = float(rule.half_life_days)
    count, total = 0, Decimal(0)
    # For `until` (counted is in time order, so the first of each kind is the earliest):
    # the first event still counting, the first fading one, the first from the future.
    track = until is not None
    kept = fading = coming = None
    future, weights = 0, Decimal(0)
    for event in counted:
        age = max(_NO_TIME, now - event.timestamp)
        if expire is not None and age > expire:
            continue  # for good: ages only grow
        if track and kept is None:
            kept = event
        if half_life is None:
            count += 1
            total += rule.points
            continue
        weight = Decimal(0.5 ** (age.total_seconds() / _SECONDS_PER_DAY / half_life))
        if weight:
            count += 1
            total += rule.points * weight
            if not track:
                continue
            if event.timestamp > now:
                future += 1
                coming = coming or event
            else:
                weights += weight
                fading = fading or event
    if until is not None:
        _faded_until(until, rule, now, firsts=(kept, coming, fading), sums=(total, future, weights))
    return count, total


_Firsts = tuple[EventFact | None, EventFact | None, EventFact | None]


def _faded_until(
    until: _Until, rule: Rule, now: datetime, *, firsts: _Firsts, sums: tuple[Decimal, int, Decimal]
) -> None:
    """Lower `until` to when a fading or expiring rule's contribution can next change, from
    the first (earliest) counted event still counting, from the future, and fading: the
    first expires after expire_after_days; the first from the future starts fading when it
    happens; the first fading one stops counting when its weight underflows to 0 (1074
    half-lives on; the others later), and the rounded points change at `_fading_next`."""
    kept, coming, fading = firsts
    if kept is not None and rule.expire_after_days is not None:
        until.lower(_plus(kept.timestamp, _days(rule.expire_after_days)))
    if coming is not None:
        until.lower(coming.timestamp)
    if fading is not None:
        half_life = rule.half_life_days or Decimal(1)
        until.lower(_plus(fading.timestamp, _days(_HALVINGS_TO_ZERO * half_life)))
        until.crossing(_fading_next(rule, now, *sums))
        _, future, weights = sums
        until.fades.append(Fade(rule.id, future, weights))


def _fading_next(
    rule: Rule, now: datetime, total: Decimal, future: int, weights: Decimal
) -> datetime | None:
    """When a fading rule's rounded points can next change, before any of its events expires,
    happens (from the future) or stops counting (its weight underflows to 0, 1074
    half-lives on; `_faded` takes those moments). Until then the `weights` (> 0) of its
    fading events sum to W·0.5^(d/half_life) (one half-life per rule) and the `future`
    events weigh 1 each, so the total moves monotonically towards points × future, and its
    cents change when it crosses the next half cent: that moment is solved for a boundary
    moved by `_SLACK` towards the total (far above the weights' float error), less `_EARLY`.
    Never later than the change, possibly earlier; None: not before those moments."""
    half_life = rule.half_life_days or Decimal(1)
    value, magnitude = abs(total), abs(rule.points)  # rounding is symmetric around 0
    cents = _cents(value)
    low, high = cents - _HALF_CENT, cents + _HALF_CENT
    if value >= high * (1 - _SLACK) or (low > 0 and value <= low * (1 + _SLACK)):
        return now  # on a boundary, within float error: it may change at any moment
    if low <= 0:
        return None  # rounds to 0.00 and tends towards >= 0: it stays 0.00
    target, floor = low * (1 + _SLACK), magnitude * future
    if floor >= target:
        return None  # it tends to a value that keeps these cents
    # magnitude · (future + weights · 0.5^(d / half_life)) = target
    days = float(half_life) * math.log2(float(magnitude * weights / (target - floor)))
    try:
        return now + timedelta(days=days) - _EARLY
    except OverflowError:
        return None  # past the last datetime: never


def _fit(rule: Rule, facts: LeadFacts) -> _Result:
    if all(condition_holds(c, lead_field(facts, c.field)) for c in rule.conditions):
        return 1, Decimal(rule.points)
    return _NOTHING


def _inactivity(rule: Rule, events: _Events, now: datetime, until: _Until | None = None) -> _Result:
    if rule.inactive_days is None:
        return _NOTHING
    span = _days(rule.inactive_days)
    watched = frozenset(name_key(name) for name in rule.watch_events)

    def is_activity(event: EventFact) -> bool:
        # identify, group and alias calls (no event key) are never activity (docs/scoring.md)
        key = event_key(event)
        return key is not None and (not watched or key in watched)

    if not rule.after_event:
        last = next(
            (e for e in reversed(events) if is_activity(e) and _event_conditions_hold(rule, e)),
            None,
        )
        if until is not None and last is not None:
            until.lower(inactive_from(last.timestamp, span, now))
        if last is not None and now - last.timestamp >= span:
            return 1, Decimal(rule.points)
        return _NOTHING

    after_key = name_key(rule.after_event)

    def is_after(event: EventFact) -> bool:
        return event_key(event) == after_key and _event_conditions_hold(rule, event)

    anchor = next((e for e in reversed(events) if is_after(e)), None)
    if anchor is None:
        return _NOTHING
    start, deadline = anchor.timestamp, anchor.timestamp + span
    for event in events:
        in_window = start < event.timestamp <= deadline
        if in_window and is_activity(event) and (watched or not is_after(event)):
            return _NOTHING
    if until is not None:
        until.lower(inactive_from(start, span, now))
    return (1, Decimal(rule.points)) if now >= deadline else _NOTHING


def inactive_from(start: datetime, span: timedelta, now: datetime) -> datetime | None:
    """When an inactivity condition starting at `start` begins to hold, if after `now`:
    the rule adds its points from `start + span` on, and nothing changes after that."""
    deadline = _plus(start, span)
    return deadline if deadline is not None and now < deadline else None


def _apply(
    rule: Rule,
    facts: LeadFacts,
    events: _Events,
    by_key: dict[str | None, list[EventFact]],
    now: datetime,
    *,
    until: _Until | None = None,
) -> _Result:
    if rule.kind == "behavior":
        return _behavior(rule, by_key, now, until)
    if rule.kind == "fit":
        return _fit(rule, facts)
    if rule.kind == "inactivity":
        return _inactivity(rule, events, now, until)
    raise ValueError(f"rule {rule.id}: unknown kind {rule.kind!r}")


def evaluate(facts: LeadFacts, rules: Sequence[Rule], *, now: datetime) -> Score:
    """Score a lead at `now` with the active `rules`; pure, deterministic, order-free."""
    return _evaluate(facts, rules, now, None)


def evaluate_until(
    facts: LeadFacts, rules: Sequence[Rule], *, now: datetime
) -> tuple[Score, datetime | None]:
    """`evaluate(facts, rules, now=now)` and `next_change` for the same facts, in one pass."""
    until = _Until()
    return _evaluate(facts, rules, now, until), until.not_before(now)


def evaluate_state(
    facts: LeadFacts, rules: Sequence[Rule], *, now: datetime
) -> tuple[Score, datetime | None, FadeState]:
    """`evaluate_until`, and the state `refade` moves the score forward from."""
    until = _Until()
    score = _evaluate(facts, rules, now, until)
    return score, until.not_before(now), until.state()


def refade(
    breakdown: Sequence[Contribution],
    state: FadeState,
    rules: Mapping[int, Rule],
    *,
    since: datetime,
    now: datetime,
    rescaled: bool = False,
) -> tuple[Score, datetime | None, FadeState] | None:
    """The score at `now` of a lead scored at `since` (its `breakdown` and `state` from
    `evaluate_state`), before anything but fading can change it (`now` < `state.discrete`):
    each fading rule's points are points × (future + weights × 0.5^((now - since) /
    half-life)), the closed form of `_faded`'s sum of per-event weights, and every other
    contribution stays. None when it cannot answer exactly: `now` is not in
    [since, discrete), a rule is missing, or a total lies within float error of a rounding
    boundary (there the per-event sum decides; the caller evaluates the events). Equal to
    `evaluate` at `now` (tests/scoring/engine/test_refade.py).

    `rescaled`: `rules` may differ from the rules that scored the lead in their points only
    (the simulator's draft), so every other contribution is recomputed as points × its
    count, which is what each non-fading rule adds: which events a rule counts never
    depends on its points. Equal to `evaluate` with those rules at `now`
    (tests/scoring/engine/test_refade.py)."""
    if now < since or (state.discrete is not None and now >= state.discrete):
        return None
    until = _Until()
    until.lower(state.discrete)
    days = (now - since).total_seconds() / _SECONDS_PER_DAY
    totals: dict[int, Decimal] = {}
    with localcontext(_CONTEXT):
        for fade in state.fades:
            rule = rules.get(fade.rule_id)
            if rule is None or rule.half_life_days is None or rule.half_life_days <= 0:
                return None
            # In floats: within 1e-15 of the per-event Decimal sum, far inside the 1e-9
            # that `_near_boundary` keeps from a rounding boundary.
            points = float(rule.points)
            weights = float(fade.weights) * 0.5 ** (days / float(rule.half_life_days))
            total = points * fade.future + points * weights
            if _near_boundary_float(total):
                return None
            exact = Decimal(total)
            totals[rule.id] = exact
            kept = Decimal(repr(weights))
            until.crossing(_fading_next(rule, now, exact, fade.future, kept))
            until.fades.append(Fade(rule.id, fade.future, kept))
        results = []
        for c in breakdown:
            rule = rules.get(c.rule_id)
            if rule is None:
                return None
            moved = totals.get(c.rule_id)
            if moved is None:
                moved = rule.points * c.count if rescaled else c.points
            results.append((rule, (c.count, moved)))
        if len(totals) != len(state.fades) or not set(totals) <= {c.rule_id for c in breakdown}:
            return None  # a fading rule the breakdown does not list: not the same lead state
        return score_of(results, now=now), until.not_before(now), until.state()


def _near_boundary_float(total: float) -> bool:
    """Within float error of a half cent (`_fading_next`'s test, with its `_SLACK`): the
    rounding may go either way."""
    value = abs(total)
    cents = math.floor(value * 100 + 0.5) / 100
    low, high = cents - 0.005, cents + 0.005
    slack = float(_SLACK)
    return value >= high * (1 - slack) or (low > 0 and value <= low * (1 + slack))


def next_change(facts: LeadFacts, rules: Sequence[Rule], *, now: datetime) -> datetime | None:
    """The earliest moment after `now` at which `evaluate` can give another score or
    breakdown for these facts without new events (fading, expiry, inactivity); None when
    time alone never changes it. Never later than the change, possibly earlier (re-scoring
    early is harmless); `now` itself means "at any moment". Until then, every
    `evaluate(facts, rules, now=t)` with now <= t < next_change equals the one at `now`
    but for `as_of` (tests/scoring/engine/test_next_change.py)."""
    return evaluate_until(facts, rules, now=now)[1]


def _evaluate(
    facts: LeadFacts, rules: Sequence[Rule], now: datetime, until: _Until | None
) -> Score:
    _require_aware(now, "now")
    events = _prepare(facts.events)
    if facts.score_epoch is not None:
        _require_aware(facts.score_epoch, "score_epoch")
        events = [e for e in events if e.timestamp >= facts.score_epoch]
    by_key: dict[str | None, list[EventFact]] = {}
    for event in events:
        by_key.setdefault(event_key(event), []).append(event)

    with localcontext(_CONTEXT):
        results = (
            (rule, _apply(rule, facts, events, by_key, now, until=until))
            for rule in sorted((r for r in rules if r.active), key=lambda r: r.id)
        )
        return score_of(results, now=now)


def score_of(results: Iterable[tuple[Rule, _Result]], *, now: datetime) -> Score:
    """The score from each rule's (count, points), in rule order; the one place where points
    are quantized and summed, so the breakdown adds up to the score (`Scorer` uses it too).
    Call it under the engine's decimal context."""
    contributions = [
        Contribution(rule.id, rule.name, rule.kind, count, _cents(points))
        for rule, (count, points) in results
        if count > 0
    ]
    # Summed from the quantized contributions so the breakdown adds up to the score.
    fit = sum((c.points for c in contributions if c.kind == "fit"), _ZERO)
    engagement = sum((c.points for c in contributions if c.kind != "fit"), _ZERO)
    return Score(
        score=engagement + fit,
        engagement=engagement,
        fit=fit,
        as_of=now,
        breakdown=tuple(contributions),
    )


def passes(score: Decimal, fit: Decimal, *, threshold: Decimal, min_fit: Decimal | None) -> bool:
    """The MQL test: score reaches the threshold and, when set, fit reaches `min_fit`."""
    return score >= threshold and (min_fit is None or fit >= min_fit)


def qualifies(score: Score, *, threshold: Decimal, min_fit: Decimal | None) -> bool:
    """The MQL test for an evaluated score (see `passes`)."""
    return passes(score.score, score.fit, threshold=threshold, min_fit=min_fit)
