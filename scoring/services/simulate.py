"""The simulator: what draft rules and/or a threshold would do, computed without writing.

One definition of a score: draft rules are scored by the engine (`engine.Scorer`, which
equals `engine.evaluate` with the rules prepared once). It is fast because
a rule's contribution depends on that rule alone (engine property, tested): a draft rule
whose definition equals a published rule contributes exactly what the stored breakdown
says, so only new or changed rules are evaluated, over only the events they can see. The
leads are split in id ranges; with many leads the ranges run in worker processes. When
every evaluated draft rule that reads events is a behaviour rule or an inactivity rule after
an event, PostgreSQL counts, caps and fades them (`simulate_sql`, equal to the engine lead by
lead; the leads it cannot answer exactly go to the engine), and the engine scores the fit
rules beside it, once per distinct profile.
"""

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Final

import orjson
from django.core.cache import cache
from django.db import connection, transaction

from mqlapp.leads.models import Lead

from .. import engine
from ..models import LeadScore
from .histogram import Tally
from .loader import events_load
from .parallel import parallel_map
from .simulate_base import BaseRow, base_rows, fact_columns, lead_ids_span, lead_rows
from .simulate_points import Moved, Repointed, points_split, repointed_contributions
from .simulate_sql import SqlRule, contributions, contributions_at, rules_split
from .state import rules_live

OUTCOME_KINDS = ("accepted", "rejected", "won", "lost")
# Where each lead stands with sales, as the caller (handoff) says; leads in none of these count
# only as evaluated:
# - WAITING: an MQL that qualified by its score and waits for sales to take it: a draft that
#   drops it below the bar counts it as "no longer qualified";
# - HANDED_OVER: in sales' hands (accepted or later) or an MQL by a fast-track event: its score
#   never took it there or cannot take it back (SPEC §5), so it never counts as "no longer";
# - CANDIDATE: nurturing, may be newly qualified.
WAITING, HANDED_OVER, CANDIDATE = "waiting", "handed_over", "candidate"
CHUNK = 5000
# A range's sorts (a rule's events in time order, per lead) fit in memory with this much; at
# PostgreSQL's default 4 MB the page events of 5,000 leads spilled to disk.
WORK_MEM = "32MB"
# Where the leads with ids in [low, high] stand with sales (the caller's: handoff's). Called in
# the process that simulates the range, so a module-level function (it travels by name).
Standing = Callable[[int, int], Mapping[int, str]]
_ZERO = Decimal(0)
_CENT = Decimal("0.01")
_NONE = (_ZERO, _ZERO)


@dataclass(frozen=True)
class Outcome:
    """A past sales decision on a lead, and the moment it had been handed to sales."""

    lead_id: int
    kind: str  # accepted | rejected | won | lost
    at: datetime  # when the lead became the MQL that led to this outcome
    epoch: datetime | None  # its score epoch at that moment (set by an earlier recycle)


@dataclass(frozen=True)
class _Job:
    """Everything a range of leads needs (plain values: it may go to another process)."""

    draft: tuple[engine.Rule, ...]
    fresh: tuple[engine.Rule, ...]
    adjust: dict[int, int] | None  # see simulate_base.base_rows
    version: int
    now: datetime
    threshold: Decimal
    min_fit: Decimal | None
    fast: bool | None
    live_threshold: Decimal | None = None  # the bar today (None: the same as `threshold`)
    live_min_fit: Decimal | None = None
    live: tuple[engine.Rule, ...] = ()  # the published rules (the backtest's cached parts)
    reuse: dict[int, int] = field(default_factory=dict)  # live rule id -> times in the draft
    # `fresh` split: the rules answered from the stored scores (a published rule's with
    # other points: simulate_points), those PostgreSQL counts (simulate_sql) and those the
    # engine scores
    repointed: tuple[Repointed, ...] = ()
    counted: tuple[SqlRule, ...] = ()
    scored: tuple[engine.Rule, ...] = ()
    standing: Standing | None = None

    def qualifies(self, score: Decimal, fit: Decimal) -> bool:
        return engine.passes(score, fit, threshold=self.threshold, min_fit=self.min_fit)

    def qualifies_now(self, score: Decimal, fit: Decimal) -> bool:
        """The MQL test for the stored score under the live policy."""
        if self.live_threshold is None:
            return self.qualifies(score, fit)
        return engine.passes(score, fit, threshold=self.live_threshold, min_fit=self.live_min_fit)


@dataclass
class _Part:
    evaluated: int = 0
    would: int = 0
    current: int = 0
    newly: int = 0
    no_longer: int = 0
    changed: int = 0
    values: list[Decimal] = field(default_factory=list)  # a range's scores, then its tally
    tally: Tally = field(default_factory=Tally)

    def add(
        self,
        standing: str | None,
        *,
        score: Decimal,
        passes: bool,
        passed: bool = False,
        changed: bool = False,
    ) -> None:
        """One lead: its simulated `score`, whether it `passes` under the draft, whether it
        `passed` today (stored score, live policy), whether its score `changed`."""
        self.evaluated += 1
        self.would += passes
        self.changed += changed
        if standing in (WAITING, HANDED_OVER):
            self.current += 1
            # Only an MQL that qualifies today and would not under the draft is "no longer":
            # never a lead in sales' hands or a fast-track MQL, never one the draft does not move.
            self.no_longer += standing == WAITING and passed and not passes
        elif standing == CANDIDATE:
            self.newly += passes
        self.values.append(score)

    def merge(self, other: "_Part") -> None:
        self.evaluated += other.evaluated
        self.would += other.would
        self.current += other.current
        self.newly += other.newly
        self.no_longer += other.no_longer
        self.changed += other.changed
        self.tally.merge(other.tally)

    def tallied(self) -> "_Part":
        """This part with its scores summed up for the histogram (what goes back from a
        worker process: a few hundred numbers, not a score per lead)."""
        self.tally.merge(Tally.of(self.values))
        self.values = []
        return self


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


def _rounded(value: Decimal) -> Decimal:
    """A score as it is reported (2 decimals, SPEC §4, rounded as the engine rounds)."""
    return value.quantize(_CENT, rounding=ROUND_HALF_UP)


def _sums(score: engine.Score | None) -> tuple[Decimal, Decimal]:
    return (score.score, score.fit) if score is not None else (_ZERO, _ZERO)


def scores_simulate(
    *,
    rules: Sequence[engine.Rule] | None,
    threshold: Decimal,
    min_fit: Decimal | None,
    outcomes: Iterable[Outcome] = (),
    standing: Standing | None = None,
    now: datetime,
    fast: bool | None = None,
    live_threshold: Decimal | None = None,
    live_min_fit: Decimal | None = None,
) -> dict[str, Any]:
    """Counts, histogram and backtest for `rules` (None: the live ones) at `now`;
    `standing(low, high)` says where the leads with ids in [low, high] stand with sales
    (WAITING, HANDED_OVER, CANDIDATE; None: every lead is only evaluated);
    `live_threshold` and `live_min_fit` are today's bar (default: `threshold`, `min_fit`),
    against which "no longer qualified" is judged."""
    version, live = rules_live()
    draft = tuple(r for r in (live if rules is None else rules) if r.active)
    reuse, fresh = _split(draft, live)
    fast_sql = connection.vendor == "postgresql" if fast is None else fast
    repointed, rest = points_split(fresh, live) if fast_sql else ((), fresh)
    adjust = None
    if reuse or repointed:
        # a repointed rule's stored part stays in the base: its pass takes it out
        # (`simulate_points.Moved.stored`) and puts the draft's in
        kept = {item.live_id for item in repointed}
        times = {r.id: reuse.get(r.id, 0) - (r.id not in kept) for r in live}
        adjust = {rule_id: n for rule_id, n in times.items() if n}
    counted, scored = rules_split(rest, fast=fast_sql)
    job = _Job(
        draft, fresh, adjust, version, now, threshold, min_fit, fast, live_threshold,
        live_min_fit, live=tuple(r for r in live if r.active), reuse=dict(reuse),
        repointed=repointed, counted=counted, scored=scored, standing=standing,
    )  # fmt: skip
    low, high, count = lead_ids_span()
    parts = max(1, -(-count // CHUNK))
    step = max(1, -(-(high - low + 1) // parts))
    # One list of work for the processes: the backtest chunks (the heaviest) first.
    work: list[tuple[Any, ...]] = [(job, "backtest", chunk) for chunk in _outcome_chunks(outcomes)]
    for start in range(low, high + 1, step):
        work.append((job, "range", (start, min(start + step - 1, high))))
    total, backtest_parts = _Part(), []
    for result in parallel_map(_work, work, leads=count):
        if isinstance(result, _Part):
            total.merge(result)
        else:
            backtest_parts.append(result)
    return {
        "leads_evaluated": total.evaluated,
        "would_qualify": total.would,
        "currently_mql_or_later": total.current,
        "newly_qualified": total.newly,
        "no_longer_qualified": total.no_longer,
        "scores_changed": total.changed,
        "histogram": total.tally.buckets(),
        "backtest": _backtest_merge(backtest_parts),
        "mql_threshold": threshold,
        "min_fit": min_fit,
        "rules_evaluated": len(fresh),
        "rules_reused": sum(reuse.values()),
        "as_of": now,
    }


def _work(job: _Job, what: str, arg: Any) -> Any:
    """One unit of work (it may run in a worker process): a range of leads or a backtest chunk,
    in one read-only transaction whose statements PostgreSQL runs without parallel workers of
    its own: the work is already split over a process per core (`parallel_map`), and a
    range's statements planned with two more workers each only added processes competing
    for the same cores, and their start (one rule's points changed, 100,000 leads: 2.6–3.0 s
    with them, 2.0 s without; docs/benchmarks.md, tenth session). Nor with JIT compilation:
    a range's statement is estimated costly enough for it, and compiling took ~17 ms of its
    ~110 ms (the stored-score pass: 93 ms per range without)."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL max_parallel_workers_per_gather TO 0")
                cursor.execute("SET LOCAL jit TO off")
                cursor.execute(f"SET LOCAL work_mem TO '{WORK_MEM}'")
        if what == "range":
            return _range_simulate(job, *arg)
        return _backtest(job, arg)


def _range_simulate(job: _Job, low: int, high: int) -> _Part:
    """The simulated scores of the leads with ids in [low, high], tallied."""
    part = _Part()
    # the lead columns the rules evaluated over the whole range read (a lead declined below
    # is read again with all of them)
    columns = fact_columns((*job.scored, *(item.rule for item in job.counted)))
    rows = base_rows(low=low, high=high, adjust=job.adjust, columns=columns, fast=job.fast)
    if not rows:
        return part
    standing = job.standing(low, high) if job.standing is not None else {}
    # A lead whose stored breakdown is not under the live rules (not scored since the last
    # swap) cannot lend contributions: all its draft rules are evaluated.
    stale_ids = {row.id for row in rows if row.rules_version != job.version}
    stale = lead_rows(sorted(stale_ids)) if stale_ids else []
    partial = _evaluate(rows, job.scored, job=job, by_range=True) if job.scored else {}
    counted: dict[int, Decimal] = {}
    declined: set[int] = set()
    if job.counted:
        counted, declined = contributions(job.counted, low=low, high=high, now=job.now)
    moved = Moved()
    if job.repointed:
        moved = repointed_contributions(
            job.repointed, low=low, high=high, now=job.now, version=job.version
        )
        declined |= moved.declined
    # the leads PostgreSQL could not answer exactly: every fresh rule by the engine (their
    # events read by one range scan when they are many of the range)
    redo_ids = sorted(declined - stale_ids)
    many = len(redo_ids) * 4 > len(rows)
    redo = _evaluate(lead_rows(redo_ids), job.fresh, job=job, by_range=many)
    full = _evaluate(stale, job.draft, job=job, by_range=False)
    for row in rows:
        if row.id in full:
            score, fit = _sums(full[row.id])
        elif row.id in stale_ids:
            score, fit = _ZERO, _ZERO
        else:
            if row.id in declined:
                extra, extra_fit = _sums(redo.get(row.id))
            else:
                extra, extra_fit = _sums(partial.get(row.id))
                extra += counted.get(row.id, _ZERO)
                new, new_fit = moved.found.get(row.id, _NONE)
                extra, extra_fit = extra + new, extra_fit + new_fit
            old, old_fit = moved.stored.get(row.id, _NONE)
            score = row.reused - old + extra
            fit = row.reused_fit - old_fit + extra_fit
        part.add(
            standing.get(row.id),
            score=score,
            passes=job.qualifies(score, fit),
            passed=job.qualifies_now(row.stored, row.stored_fit),
            # (equal values round equally: most leads a draft does not move skip the rounding)
            changed=score != row.stored and _rounded(score) != _rounded(row.stored),
        )
    return part.tallied()


def _evaluate(
    rows: Sequence[BaseRow], rules: Sequence[engine.Rule], *, job: _Job, by_range: bool
) -> dict[int, engine.Score]:
    if not rows or not rules:
        return {}
    plan = engine.needs(rules)
    if not plan.events:
        return _profiles_evaluate(rows, rules, job=job)
    has_fit = any(rule.kind == "fit" for rule in rules)
    if by_range:  # a whole range: one index range scan
        events = events_load(plan=plan, id_range=(rows[0].id, rows[-1].id), fast=job.fast)
    else:
        events = events_load([row.id for row in rows], plan=plan, fast=job.fast)
    found: dict[int, engine.Score] = {}
    scorer = engine.Scorer(rules)  # the rules prepared once (equal to engine.evaluate)
    for row in rows:
        lead_events = events.get(row.id, ())
        if not lead_events and not has_fit:
            continue  # behaviour and inactivity rules need events: nothing to add
        found[row.id] = scorer.evaluate(row.facts(lead_events), now=job.now)
    return found


def _profiles_evaluate(
    rows: Sequence[BaseRow], rules: Sequence[engine.Rule], *, job: _Job
) -> dict[int, engine.Score]:
    """`rules` that read no events (fit rules), scored once per distinct value of the lead
    fields they read (`engine.needs`: a score depends on nothing else), not once per lead:
    100,000 leads have a few hundred distinct titles and sizes."""
    columns = fact_columns(rules)
    scorer = engine.Scorer(rules)
    seen: dict[tuple[Any, ...], engine.Score] = {}
    found: dict[int, engine.Score] = {}
    for row in rows:
        key = tuple(_hashable(row.data.get(name)) for name in columns)
        score = seen.get(key)
        if score is None:
            score = seen[key] = scorer.evaluate(row.facts(()), now=job.now)
        found[row.id] = score
    return found


def _hashable(value: Any) -> Any:
    """A lead field's value as a dict key (traits, a JSON object: its sorted JSON text)."""
    if isinstance(value, dict | list):
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    return value


def _outcome_chunks(outcomes: Iterable[Outcome], *, size: int = 1000) -> list[list[Outcome]]:
    """The latest outcome per (lead, kind), grouped by lead in chunks of about `size`."""
    latest: dict[tuple[int, str], Outcome] = {}
    for outcome in outcomes:
        key = (outcome.lead_id, outcome.kind)
        if outcome.kind in OUTCOME_KINDS and (key not in latest or latest[key].at < outcome.at):
            latest[key] = outcome
    by_lead: dict[int, list[Outcome]] = defaultdict(list)
    for outcome in latest.values():
        by_lead[outcome.lead_id].append(outcome)
    ids = sorted(by_lead)
    return [
        [o for lead_id in ids[start : start + size] for o in by_lead[lead_id]]
        for start in range(0, len(ids), size)
    ]


def _backtest(job: _Job, outcomes: Sequence[Outcome]) -> dict[str, list[int]]:
    """Of these outcomes, how many leads the draft would have qualified when they were
    handed to sales (their events up to then, the epoch they had then).

    A draft rule equal to a published one contributes what that rule contributed then, and
    one that differs from it in points only what `engine.refade` (rescaled) makes of that:
    those parts are kept per published rule set in the cache (`_live_parts`), so moving the
    threshold or changing points re-reads no events, and a changed rule is the only one
    evaluated (a rule's contribution depends on that rule alone: engine property, tested)."""
    result = {kind: [0, 0] for kind in OUTCOME_KINDS}
    ids = sorted({outcome.lead_id for outcome in outcomes})
    # the leads' facts are read only for the outcomes the engine scores
    present = set(Lead.objects.filter(pk__in=ids).values_list("pk", flat=True))
    leads: dict[int, BaseRow] = {}

    def facts_of(wanted: Iterable[int]) -> Mapping[int, BaseRow]:
        missing = sorted(set(wanted) - leads.keys())
        if missing:
            leads.update((row.id, row) for row in lead_rows(missing))
        return leads

    kept = [o for o in outcomes if o.lead_id in present]
    # what a draft keeps of the published rules' scores then: nothing when it reuses and
    # repoints no rule ("every rule reshaped"), so they are neither read nor scored
    if job.reuse or job.repointed:
        parts = _live_parts(job, kept, facts_of)
    else:
        parts = dict.fromkeys(kept, _NOTHING_THEN)
    repointed_ids = {item.live_id for item in job.repointed}
    rules = {rule.id: rule for rule in job.live}
    # (a published rule repointed twice in one draft: its parts are the engine's)
    unique = len(repointed_ids) == len(job.repointed)
    if unique:
        rules.update({item.live_id: replace(item.rule, id=item.live_id) for item in job.repointed})
    sums: dict[Outcome, tuple[Decimal, Decimal]] = {}
    engine_all: set[Outcome] = set()  # a repointed part refade cannot give: every fresh rule
    for outcome, then in parts.items():
        score = fit = _ZERO
        for c in then.breakdown:
            times = job.reuse.get(c.rule_id, 0)
            score += c.points * times
            fit += c.points * times if c.kind == "fit" else _ZERO
        if job.repointed:
            moved = unique and engine.refade(
                then.breakdown, then.state, rules, since=outcome.at, now=outcome.at,
                rescaled=True,
            )  # fmt: skip
            if not moved:
                engine_all.add(outcome)
            else:
                for c in moved[0].breakdown:
                    if c.rule_id in repointed_ids:
                        score += c.points
                        fit += c.points if c.kind == "fit" else _ZERO
        sums[outcome] = (score, fit)
    for outcome, (score, fit) in _fresh_added(job, sums, engine_all, facts_of).items():
        result[outcome.kind][0] += job.qualifies(score, fit)
        result[outcome.kind][1] += 1
    return result


def _fresh_added(
    job: _Job,
    sums: Mapping[Outcome, tuple[Decimal, Decimal]],
    engine_all: set[Outcome],
    facts_of: "_FactsOf",
) -> dict[Outcome, tuple[Decimal, Decimal]]:
    """Each outcome's score and fit with the draft's evaluated rules added to `sums` (what
    it reuses). The rules PostgreSQL counts (`simulate_sql`) are counted there for each
    outcome at its own moment; an outcome it declines is the engine's with all the
    evaluated rules, and one `refade` could not move (`engine_all`) with every fresh rule.
    The rest (fit rules beside the counted ones, or every rule when none is counted): the
    engine, reading events only where a rule it scores reads them."""
    order = list(sums)
    counted, declined = contributions_at(
        job.counted,
        [(i, o.lead_id, o.at, o.epoch) for i, o in enumerate(order) if o not in engine_all],
    )
    rest = (*job.scored, *(item.rule for item in job.counted))
    scorers = {
        "all": engine.Scorer(job.fresh),
        "rest": engine.Scorer(rest),
        "beside": engine.Scorer(job.scored),
    }
    added = dict(sums)
    plans: dict[Outcome, str] = {}
    for i, outcome in enumerate(order):
        if outcome in engine_all:
            plans[outcome] = "all"
        elif job.counted and i not in declined:
            score, fit = added[outcome]
            added[outcome] = (score + counted.get(i, _ZERO), fit)  # (no fit rule is counted)
            if job.scored:
                plans[outcome] = "beside"
        elif rest:
            plans[outcome] = "rest"
    read = sorted({o.lead_id for o, plan in plans.items() if plan != "beside"})
    events = events_load(read, plan=engine.needs(job.fresh), fast=job.fast) if read else {}
    facts = facts_of({o.lead_id for o in plans})
    for outcome, plan in plans.items():
        row = facts[outcome.lead_id]
        seen = [e for e in events.get(outcome.lead_id, ()) if e.timestamp <= outcome.at]
        fresh = scorers[plan].evaluate(row.facts(seen, epoch=outcome.epoch), now=outcome.at)
        score, fit = added[outcome]
        added[outcome] = (score + fresh.score, fit + fresh.fit)
    return added


@dataclass(frozen=True)
class _Then:
    """An outcome's score under the published rules at its handoff time: the breakdown and
    what `engine.refade` moves or rescales it from."""

    breakdown: tuple[engine.Contribution, ...]
    state: engine.FadeState

    def dump(self) -> bytes:
        """JSON bytes (the cache pickles bytes at no cost; a dict's pickle took ~13 µs to
        read back per outcome, JSON ~3)."""
        return orjson.dumps({
            "b": [[c.rule_id, c.kind, c.count, str(c.points)] for c in self.breakdown],
            "f": [[f.rule_id, f.future, str(f.weights)] for f in self.state.fades],
            "d": self.state.discrete.isoformat() if self.state.discrete else None,
        })  # fmt: skip

    @classmethod
    def load(cls, raw: bytes) -> "_Then":
        data = orjson.loads(raw)
        return cls(
            tuple(engine.Contribution(r, "", k, n, Decimal(p)) for r, k, n, p in data["b"]),
            engine.FadeState(
                datetime.fromisoformat(data["d"]) if data["d"] else None,
                tuple(engine.Fade(r, n, Decimal(w)) for r, n, w in data["f"]),
            ),
        )


_NOTHING_THEN: Final = _Then((), engine.FadeState(None, ()))
PARTS_TTL = 24 * 3600
# the facts of these leads (read once, when first asked for)
_FactsOf = Callable[[Iterable[int]], Mapping[int, BaseRow]]


def _live_parts(job: _Job, outcomes: Sequence[Outcome], facts_of: _FactsOf) -> dict[Outcome, _Then]:
    """Each outcome's score under the published rules at its handoff time, from the cache
    when this rule set already scored it. The key holds the rule set's version and when the
    lead was last scored (new events, new data and recycles re-score a lead), so a stale
    entry is never read; a cache that is down is an empty one."""
    ids = sorted({outcome.lead_id for outcome in outcomes})
    scored = dict(LeadScore.objects.filter(lead_id__in=ids).values_list("lead_id", "as_of"))

    def key(outcome: Outcome) -> str:
        epoch = outcome.epoch.timestamp() if outcome.epoch else "-"
        last = scored.get(outcome.lead_id)
        stamp = last.timestamp() if last else "-"
        return (
            f"mql:backtest:3:{job.version}:{outcome.lead_id}:{outcome.kind}:"
            f"{outcome.at.timestamp()}:{epoch}:{stamp}"
        )

    keys = {outcome: key(outcome) for outcome in outcomes}
    found = cache.get_many(list(keys.values())) if keys else {}
    parts: dict[Outcome, _Then] = {}
    missing = []
    for outcome, name in keys.items():
        if name in found:
            parts[outcome] = _Then.load(found[name])
        else:
            missing.append(outcome)
    if missing:
        wanted = sorted({outcome.lead_id for outcome in missing})
        events = events_load(wanted, plan=engine.needs(job.live), fast=job.fast)
        leads = facts_of(wanted)
        scorer = engine.Scorer(job.live)
        fresh = {}
        for outcome in missing:
            then = [e for e in events.get(outcome.lead_id, ()) if e.timestamp <= outcome.at]
            row = leads[outcome.lead_id]
            score, _, state = scorer.evaluate_state(
                row.facts(then, epoch=outcome.epoch), now=outcome.at
            )
            parts[outcome] = _Then(score.breakdown, state)
            fresh[keys[outcome]] = parts[outcome].dump()
        cache.set_many(fresh, timeout=PARTS_TTL)
    return parts


def _backtest_merge(parts: Iterable[dict[str, list[int]]]) -> dict[str, dict[str, int]]:
    merged = {kind: {"would_qualify": 0, "total": 0} for kind in OUTCOME_KINDS}
    for part in parts:
        for kind, (would, total) in part.items():
            merged[kind]["would_qualify"] += would
            merged[kind]["total"] += total
    return merged
