"""`Scorer`: `evaluate` for many leads under one rule set, with the rules prepared once.

`evaluate(facts, rules, now=now)` stays the definition of a score; `Scorer(rules)` gives the
same Score for every input (tests/scoring/engine/test_scorer.py holds the two together on
generated data), only faster when one rule set scores many leads, as a batch does:

- the active rules are sorted once, and each rule's event key is found once;
- each condition's path is split once, and its answer is remembered per value it saw (a
  condition is a pure function of the value it reads, and values repeat across events and
  leads: a page path, a title);
- events are ordered without the deduplication pass when their ids are already distinct.

Everything else (caps, fading, inactivity, rounding, errors and when they are raised) is
the code `evaluate` runs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal, localcontext
from operator import attrgetter
from typing import Any, Final

from scoring.engine.conditions import (
    _MISSING,
    _PAGE_KEY,
    _SCREEN_KEY,
    _fold,
    _holds,
    _walk,
    lead_field,
    name_key,
)
from scoring.engine.evaluate import (
    _CONTEXT,
    _NO_TIME,
    _NOTHING,
    _SECONDS_PER_DAY,
    FadeState,
    _apply,
    _cap,
    _days,
    _faded_until,
    _prepare,
    _require_aware,
    _Result,
    _Until,
    inactive_from,
    score_of,
)
from scoring.engine.facts import Condition, EventFact, LeadFacts, Rule, Score

__all__ = ["Scorer"]

# Values a condition's answer is remembered for: hashable, and equal values of one of these
# types get the same answer from every operator.
_REMEMBERED: Final = frozenset({str, int, float, bool})
# A batch reads a few hundred distinct values per condition; this only bounds a long life.
_MEMO_LIMIT: Final = 4096
_time_order: Final = attrgetter("timestamp", "id")

_ByKey = dict[str | None, list[EventFact]]
_Step = Callable[[LeadFacts, list[EventFact], _ByKey, datetime, _Until | None], _Result]


def _value_test(condition: Condition) -> Callable[[Any], bool]:
    """`condition_holds(condition, actual)`, remembered per (type, value) of `actual`."""
    op, expected = condition.op, condition.value
    memo: dict[tuple[type, Any], bool] = {}

    def holds(actual: Any) -> bool:
        kind = type(actual)
        if kind not in _REMEMBERED:
            return _holds(actual, op, expected)
        key = (kind, actual)
        answer = memo.get(key)
        if answer is None:
            answer = _holds(actual, op, expected)
            if len(memo) >= _MEMO_LIMIT:
                memo.clear()
            memo[key] = answer
        return answer

    return holds


def _reader(parts: list[str]) -> Callable[[Any], Any]:
    """`_walk(root, parts)`; a one-part path in a plain dict is read with one `get`."""
    if len(parts) != 1:
        return lambda root: _walk(root, parts)
    part = parts[0]

    def read(root: Any) -> Any:
        if type(root) is not dict:
            return _walk(root, parts)
        value = root.get(part, _MISSING)
        return _MISSING if value is None else value

    return read


def _event_test(condition: Condition) -> Callable[[EventFact], bool]:
    """`condition_holds(condition, event_field(event, condition.field))`."""
    holds = _value_test(condition)
    head, _, rest = condition.field.partition(".")
    read = _reader(rest.split("."))
    if head == "properties":
        return lambda event: holds(read(event.properties))
    if head == "context":
        return lambda event: holds(read(event.context))
    return lambda event: holds(_MISSING)


def _all(tests: Sequence[Callable[[EventFact], bool]]) -> Callable[[EventFact], bool]:
    if len(tests) == 1:
        return tests[0]
    return lambda event: all(test(event) for test in tests)


def _behavior(rule: Rule) -> _Step:
    """`evaluate._behavior` with the event key and condition tests found once."""
    if not rule.event:
        return lambda facts, events, by_key, now, until: _NOTHING
    key = name_key(rule.event)
    matches = _all([_event_test(c) for c in rule.conditions]) if rule.conditions else None
    points, max_times, window_days = rule.points, rule.max_times, rule.window_days
    fading = rule.expire_after_days is not None or rule.half_life_days is not None

    def step(
        facts: LeadFacts,
        events: list[EventFact],
        by_key: _ByKey,
        now: datetime,
        until: _Until | None,
    ) -> _Result:
        candidates = by_key.get(key)
        if not candidates:
            return _NOTHING
        if matches is not None:
            candidates = [e for e in candidates if matches(e)]
        counted = _cap(candidates, max_times, window_days)
        if not fading:
            return len(counted), points * len(counted)
        return _faded(rule, counted, now, until)

    return step


def _faded(
    rule: Rule, counted: Sequence[EventFact], now: datetime, until: _Until | None
) -> _Result:
    """`evaluate._faded`, the same arithmetic in the same order; with `until`, the same
    first events and sums for `evaluate._faded_until`."""
    expire = None if rule.expire_after_days is None else _days(rule.expire_after_days)
    half_life = None
    if rule.half_life_days is not None:
        if rule.half_life_days <= 0:
            raise ValueError(f"rule {rule.id}: half_life_days must be > 0")
        half_life = float(rule.half_life_days)
    points, decimal, day, no_time = rule.points, Decimal, _SECONDS_PER_DAY, _NO_TIME
    count, total = 0, Decimal(0)
    kept = fading = coming = None
    future, weights = 0, Decimal(0)
    for event in counted:
        age = now - event.timestamp
        if age < no_time:  # noqa: PLR1730 (max() is a call per event; a future event is 0 days old)
            age = no_time
        if expire is not None and age > expire:
            continue
        kept = kept or event
        if half_life is None:
            count += 1
            total += points
            continue
        weight = decimal(0.5 ** (age.total_seconds() / day / half_life))
        if weight:
            count += 1
            total += points * weight
            if event.timestamp > now:  # from the future: weight 1 until it happens
                future += 1
                coming = coming or event
            else:
                weights += weight
                fading = fading or event
    if until is not None:
        _faded_until(until, rule, now, firsts=(kept, coming, fading), sums=(total, future, weights))
    return count, total


def _fit(rule: Rule) -> _Step:
    """`evaluate._fit` with each condition's answers remembered."""
    tests = [(c.field, _value_test(c)) for c in rule.conditions]
    with localcontext(_CONTEXT):
        hit = (1, Decimal(rule.points))

    def step(
        facts: LeadFacts,
        events: list[EventFact],
        by_key: _ByKey,
        now: datetime,
        until: _Until | None,
    ) -> _Result:
        if all(holds(lead_field(facts, field)) for field, holds in tests):
            return hit
        return _NOTHING

    return step


def _key(event: EventFact) -> str | None:
    """`conditions.event_key`."""
    kind = event.type
    if kind == "page":
        return _PAGE_KEY
    if kind == "screen":
        return _SCREEN_KEY
    if kind == "track":
        return _fold(event.name)
    return None


def _inactive_from(until: _Until | None, start: datetime, span: timedelta, now: datetime) -> None:
    if until is not None:
        until.lower(inactive_from(start, span, now))


def _inactive(rule: Rule) -> _Step:
    """`evaluate._inactivity` with the keys and condition tests found once; events are in
    time order, so the scan for activity after the anchor stops at the deadline."""
    if rule.inactive_days is None:
        return lambda facts, events, by_key, now, until: _NOTHING
    inactive_days = rule.inactive_days
    watched = frozenset(name_key(name) for name in rule.watch_events)
    matches = _all([_event_test(c) for c in rule.conditions]) if rule.conditions else None
    after_key = name_key(rule.after_event) if rule.after_event else None
    with localcontext(_CONTEXT):
        hit = (1, Decimal(rule.points))

    def active(key: str | None) -> bool:
        # identify, group and alias calls (no key) are never activity, as in evaluate
        return key is not None and (not watched or key in watched)

    def step(
        facts: LeadFacts,
        events: list[EventFact],
        by_key: _ByKey,
        now: datetime,
        until: _Until | None,
    ) -> _Result:
        span = _days(inactive_days)
        if after_key is None:
            for event in reversed(events):
                if active(_key(event)) and (matches is None or matches(event)):
                    _inactive_from(until, event.timestamp, span, now)
                    return hit if now - event.timestamp >= span else _NOTHING
            return _NOTHING
        anchors = by_key.get(after_key) or ()
        anchor = next((e for e in reversed(anchors) if matches is None or matches(e)), None)
        if anchor is None:
            return _NOTHING
        start, deadline = anchor.timestamp, anchor.timestamp + span
        for event in events:
            at = event.timestamp
            if at <= start:
                continue
            if at > deadline:
                break
            key = _key(event)
            if active(key) and (
                watched or not (key == after_key and (matches is None or matches(event)))
            ):
                return _NOTHING
        _inactive_from(until, start, span, now)
        return hit if now >= deadline else _NOTHING

    return step


def _as_evaluate(rule: Rule) -> _Step:
    """The rule exactly as `evaluate` applies it (inactivity rules, unknown kinds, and any
    rule that cannot be prepared: its error is then raised where `evaluate` raises it)."""
    return lambda facts, events, by_key, now, until: _apply(
        rule, facts, events, by_key, now, until=until
    )


_PREPARED: Final[dict[str, Callable[[Rule], _Step]]] = {
    "behavior": _behavior,
    "fit": _fit,
    "inactivity": _inactive,
}


def _step(rule: Rule) -> _Step:
    prepare = _PREPARED.get(rule.kind) if isinstance(rule.kind, str) else None
    if prepare is None:
        return _as_evaluate(rule)
    try:
        return prepare(rule)
    except Exception:  # noqa: BLE001 (a malformed rule: evaluate raises when it applies it)
        return _as_evaluate(rule)


def _ordered(events: Sequence[EventFact]) -> list[EventFact]:
    """`evaluate._prepare`: the same list, without the deduplication pass when ids are
    distinct (then every event is kept, and (timestamp, id) orders them exactly); copies of
    one id go through `_prepare`, which picks the copy that counts the same way."""
    for event in events:
        if event.timestamp.utcoffset() is None:
            return _prepare(events)  # raises for this event, as evaluate does
    if len({event.id for event in events}) != len(events):
        return _prepare(events)
    return sorted(events, key=_time_order)


class Scorer:
    """`evaluate(facts, rules, now=now)` for any number of leads: `Scorer(rules).evaluate(
    facts, now=now)` returns the same Score; the rules are prepared once."""

    __slots__ = ("_steps",)

    def __init__(self, rules: Sequence[Rule]) -> None:
        self._steps = [
            (rule, _step(rule))
            for rule in sorted((r for r in rules if r.active), key=lambda r: r.id)
        ]

    def evaluate(self, facts: LeadFacts, *, now: datetime) -> Score:
        """Score a lead at `now`; see `evaluate`."""
        return self._score(facts, now, None)

    def evaluate_until(self, facts: LeadFacts, *, now: datetime) -> tuple[Score, datetime | None]:
        """`evaluate_until(facts, rules, now=now)`: the score and when it can next change by
        time alone (`next_change`)."""
        until = _Until()
        return self._score(facts, now, until), until.not_before(now)

    def evaluate_state(
        self, facts: LeadFacts, *, now: datetime
    ) -> tuple[Score, datetime | None, FadeState]:
        """`evaluate_state(facts, rules, now=now)`: also what `refade` starts from."""
        until = _Until()
        score = self._score(facts, now, until)
        return score, until.not_before(now), until.state()

    def _score(self, facts: LeadFacts, now: datetime, until: _Until | None) -> Score:
        _require_aware(now, "now")
        given = facts.events
        events = _ordered(given if isinstance(given, list | tuple) else list(given))
        if facts.score_epoch is not None:
            _require_aware(facts.score_epoch, "score_epoch")
            epoch = facts.score_epoch
            events = [e for e in events if e.timestamp >= epoch]
        by_key: _ByKey = {}
        for event in events:
            kind = event.type  # conditions.event_key, inline: it runs for every event
            if kind == "track":
                key: str | None = _fold(event.name)
            elif kind == "page":
                key = _PAGE_KEY
            elif kind == "screen":
                key = _SCREEN_KEY
            else:
                key = None
            found = by_key.get(key)
            if found is None:
                by_key[key] = [event]
            else:
                found.append(event)

        with localcontext(_CONTEXT):
            results = (
                (rule, step(facts, events, by_key, now, until)) for rule, step in self._steps
            )
            return score_of(results, now=now)
