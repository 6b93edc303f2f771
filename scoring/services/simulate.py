"""The simulator: what draft rules and/or a threshold would do, computed without writing.

One definition of a score: draft rules are scored by `engine.evaluate`. It is fast because
a rule's contribution depends on that rule alone (engine property, tested): a draft rule
whose definition equals a published rule contributes exactly what the stored breakdown
says, so only new or changed rules are evaluated, over only the events they can see.
"""

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from mqlapp.models import Stage

from .. import engine
from .histogram import histogram
from .loader import events_load
from .simulate_base import BaseRow, base_rows, lead_rows
from .state import rules_live

OUTCOME_KINDS = ("accepted", "rejected", "won", "lost")
MQL_OR_LATER = frozenset({Stage.MQL, Stage.SAL, Stage.SQL, Stage.WON, Stage.LOST})
CHUNK = 5000
_ZERO = Decimal(0)


@dataclass(frozen=True)
class Outcome:
    """A past sales decision on a lead, and the moment it had been handed to sales."""

    lead_id: int
    kind: str  # accepted | rejected | won | lost
    at: datetime  # when the lead became the MQL that led to this outcome
    epoch: datetime | None  # its score epoch at that moment (set by an earlier recycle)


@dataclass
class _Tally:
    threshold: Decimal
    min_fit: Decimal | None
    evaluated: int = 0
    would: int = 0
    current: int = 0
    newly: int = 0
    no_longer: int = 0

    def qualifies(self, score: Decimal, fit: Decimal) -> bool:
        return score >= self.threshold and (self.min_fit is None or fit >= self.min_fit)

    def add(self, stage: str, score: Decimal, fit: Decimal) -> None:
        passes = self.qualifies(score, fit)
        self.evaluated += 1
        self.would += passes
        if stage in MQL_OR_LATER:
            self.current += 1
            self.no_longer += not passes
        elif stage == Stage.NURTURING:
            self.newly += passes


def _split(
    draft: Sequence[engine.Rule], live: Sequence[engine.Rule]
) -> tuple[dict[int, int], tuple[engine.Rule, ...]]:
    """Draft rules that equal a live one (reuse its stored contribution: live id → times)
    and the rest, which must be evaluated."""
    by_definition = {engine.definition(rule): rule.id for rule in live if rule.active}
    reuse: Counter[int] = Counter()
    fresh: list[engine.Rule] = []
    for rule in draft:
        live_id = by_definition.get(engine.definition(rule))
        if live_id is None:
            fresh.append(rule)
        else:
            reuse[live_id] += 1
    return dict(reuse), tuple(fresh)


def _sums(score: engine.Score | None) -> tuple[Decimal, Decimal]:
    return (score.score, score.fit) if score is not None else (_ZERO, _ZERO)


def scores_simulate(
    *,
    rules: Sequence[engine.Rule] | None,
    threshold: Decimal,
    min_fit: Decimal | None,
    outcomes: Iterable[Outcome] = (),
    now: datetime,
    fast: bool | None = None,
) -> dict[str, Any]:
    """Counts, histogram and backtest for `rules` (None: the live ones) at `now`."""
    version, live = rules_live()
    draft = tuple(r for r in (live if rules is None else rules) if r.active)
    reuse, fresh = _split(draft, live)
    tally = _Tally(threshold=threshold, min_fit=min_fit)
    values: list[Decimal] = []
    after = 0
    while rows := base_rows(after=after, limit=CHUNK, reuse=reuse, facts=bool(fresh), fast=fast):
        after = rows[-1].id
        # A lead whose stored breakdown is not under the live rules (not scored since the
        # last swap) cannot lend contributions: all its draft rules are evaluated.
        stale_ids = {row.id for row in rows if row.rules_version != version}
        stale = lead_rows(sorted(stale_ids), fast=fast) if stale_ids else []
        partial = _evaluate(rows, fresh, now=now, fast=fast, by_range=True) if fresh else {}
        full = _evaluate(stale, draft, now=now, fast=fast, by_range=False)
        for row in rows:
            if row.id in full:
                score, fit = _sums(full[row.id])
            elif row.id in stale_ids:
                score, fit = _ZERO, _ZERO
            else:
                extra, extra_fit = _sums(partial.get(row.id))
                score, fit = row.reused + extra, row.reused_fit + extra_fit
            tally.add(row.stage, score, fit)
            values.append(score)
    return {
        "leads_evaluated": tally.evaluated,
        "would_qualify": tally.would,
        "currently_mql_or_later": tally.current,
        "newly_qualified": tally.newly,
        "no_longer_qualified": tally.no_longer,
        "histogram": histogram(values),
        "backtest": _backtest(draft, list(outcomes), tally=tally, fast=fast),
        "mql_threshold": float(threshold),
        "min_fit": None if min_fit is None else float(min_fit),
        "rules_evaluated": len(fresh),
        "rules_reused": sum(reuse.values()),
        "as_of": now.isoformat(),
    }


def _evaluate(
    rows: Sequence[BaseRow],
    rules: Sequence[engine.Rule],
    *,
    now: datetime,
    fast: bool | None,
    by_range: bool,
) -> dict[int, engine.Score]:
    if not rows or not rules:
        return {}
    plan = engine.needs(rules)
    has_fit = any(rule.kind == "fit" for rule in rules)
    if by_range:  # a whole chunk: one index range scan
        events = events_load(plan=plan, id_range=(rows[0].id, rows[-1].id), fast=fast)
    else:
        events = events_load([row.id for row in rows], plan=plan, fast=fast)
    found: dict[int, engine.Score] = {}
    for row in rows:
        lead_events = events.get(row.id, ())
        if not lead_events and not has_fit:
            continue  # behaviour and inactivity rules need events: nothing to add
        found[row.id] = engine.evaluate(row.facts(lead_events), rules, now=now)
    return found


def _backtest(
    draft: Sequence[engine.Rule],
    outcomes: Sequence[Outcome],
    *,
    tally: _Tally,
    fast: bool | None,
) -> dict[str, dict[str, int]]:
    """Of the leads sales accepted / rejected / won / lost, how many the draft would have
    qualified when they were handed to sales (their events up to then, that epoch)."""
    result = {kind: {"would_qualify": 0, "total": 0} for kind in OUTCOME_KINDS}
    latest: dict[tuple[int, str], Outcome] = {}
    for outcome in outcomes:
        key = (outcome.lead_id, outcome.kind)
        if outcome.kind in result and (key not in latest or latest[key].at < outcome.at):
            latest[key] = outcome
    by_lead: dict[int, list[Outcome]] = defaultdict(list)
    for outcome in latest.values():
        by_lead[outcome.lead_id].append(outcome)
    plan = engine.needs(draft)
    ids = sorted(by_lead)
    for start in range(0, len(ids), 2000):
        chunk = ids[start : start + 2000]
        leads = {row.id: row for row in lead_rows(chunk, fast=fast)}
        events = events_load(chunk, plan=plan, fast=fast)
        for lead_id in chunk:
            row = leads.get(lead_id)
            if row is None:
                continue
            for outcome in by_lead[lead_id]:
                then = [e for e in events.get(lead_id, ()) if e.timestamp <= outcome.at]
                facts = row.facts(then, epoch=outcome.epoch)
                score = engine.evaluate(facts, draft, now=outcome.at)
                result[outcome.kind]["total"] += 1
                result[outcome.kind]["would_qualify"] += tally.qualifies(score.score, score.fit)
    return result
