"""A lead's score over time, derived from its events: the engine evaluated at past moments.

A score is a pure function of the events, the lead's data, the rules and the time (SPEC §4),
so its whole path since the first event can be computed rather than read back from stored
history rows, which begin only when this server first scored the lead (imported, seeded or
re-scored leads have none before that). The path uses today's live rules and profile:
it is the history as the current rules see it, and it ends at the stored score.
"""

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Min
from django.utils import timezone

from mqlapp.leads.models import Event, Lead

from .. import engine
from .loader import events_load, lead_facts, leads_for_facts
from .state import rules_live

MAX_POINTS = 240
_STEPS = 80


@dataclass(frozen=True)
class ScorePoint:
    """The score at `at`; `event`: the score just after events (or a recycle) at that moment,
    where the line jumps (the point before the jump has the same `at` and event=False)."""

    at: datetime
    score: Decimal
    event: bool


def _thin(moments: list[datetime], *, keep: int) -> list[datetime]:
    """At most `keep` of the sorted `moments`: the last one in each of `keep` equal spans."""
    if len(moments) <= keep:
        return moments
    start, end = moments[0], moments[-1]
    span = (end - start) / keep
    kept: dict[int, datetime] = {}
    for moment in moments:
        kept[min(int((moment - start) / span), keep - 1)] = moment
    return sorted(kept.values())


def score_path(
    lead_id: int,
    *,
    now: datetime | None = None,
    epochs: Sequence[datetime] = (),
    max_points: int = MAX_POINTS,
) -> list[ScorePoint]:
    """The lead's score from its first event to `now`, oldest first: at each moment events
    arrived (before and after), at each score-epoch move, and at regular steps between
    (fading, inactivity), at most about `max_points` points. Each point is
    `engine.evaluate` at that moment over the events up to it. `epochs`: the moments the
    lead's score epoch moved (its recycles; handoff knows them); the current epoch is known
    here. Empty when the lead has no events."""
    now = now or timezone.now()
    lead = leads_for_facts(Lead.objects.filter(pk=lead_id)).first()
    if lead is None:
        return []
    first = Event.objects.filter(lead_id=lead_id, timestamp__lte=now).aggregate(
        first=Min("timestamp")
    )["first"]
    if first is None:
        return []
    _version, rules = rules_live()
    plan = engine.needs(rules)
    ordered = [
        e
        for e in engine.events_ordered(events_load([lead_id], plan=plan).get(lead_id, []))
        if e.timestamp <= now
    ]
    times = [e.timestamp for e in ordered]
    scorer = engine.Scorer(rules)  # evaluate's answers, with the rules prepared once
    base = lead_facts(lead)
    moves = sorted({*epochs, *([base.score_epoch] if base.score_epoch else [])})
    moves = [m for m in moves if first < m <= now]

    def epoch_at(moment: datetime) -> datetime | None:
        i = bisect_right(moves, moment)
        return moves[i - 1] if i else None

    def at(moment: datetime, *, before: bool = False) -> Decimal:
        """The score at `moment`; `before`: just before it (events at it not yet counted,
        an epoch move at it not yet made)."""
        count = bisect_left(times, moment) if before else bisect_right(times, moment)
        epoch = epoch_at(moment - timedelta(microseconds=1) if before else moment)
        facts = replace(base, events=tuple(ordered[:count]), score_epoch=epoch)
        return scorer.evaluate(facts, now=moment).score

    jumps = _thin(sorted({*times, *moves}), keep=max(2, (max_points - _STEPS) // 2))
    step = (now - first) / _STEPS
    grid = [first + step * i for i in range(1, _STEPS)] if step > timedelta(0) else []
    jump_set = set(jumps)
    points: list[ScorePoint] = []
    for moment in sorted({first, *jumps, *grid, now}):
        if moment in jump_set:
            before = at(moment, before=True)
            after = at(moment)
            if before != after or moment == first:
                points.append(ScorePoint(moment, before, event=False))
            points.append(ScorePoint(moment, after, event=True))
        else:
            points.append(ScorePoint(moment, at(moment), event=False))
    return points
