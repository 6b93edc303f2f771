"""Reports from the stage history: the funnel (reached, conversion, time in stage), rejections."""

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from itertools import pairwise
from statistics import median
from typing import Any

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery

from mqlapp.leads.errors import InvalidInput
from mqlapp.leads.models import Lead
from mqlapp.leads.parsing import id_param, moment_param

from .lifecycle import Stage, sla_due
from .models import MqlPolicy, Qualification, SlaBreach, StageTransition

FUNNEL = (Stage.NURTURING, Stage.MQL, Stage.SAL, Stage.SQL, Stage.WON)
OUTCOMES = (Stage.LOST, Stage.DISQUALIFIED, Stage.RECYCLED)
NEXT: dict[str, str] = {str(a): str(b) for a, b in pairwise(FUNNEL)}


class Period:
    """[start, end) from query parameters: a date (a whole local day; `to` inclusive) or
    an ISO date-time; either may be missing."""

    def __init__(self, params: Any) -> None:
        self.start = moment_param(params.get("from"), name="from")
        self.end = moment_param(params.get("to"), name="to", end=True)
        self.source = id_param(params.get("source"), name="source")
        if self.start and self.end and self.start >= self.end:
            raise InvalidInput("from must be before to", fields={"to": ["before from"]})

    def within(self, field: str) -> Q:
        q = Q()
        if self.start:
            q &= Q(**{f"{field}__gte": self.start})
        if self.end:
            q &= Q(**{f"{field}__lt": self.end})
        return q

    def as_dict(self) -> dict[str, Any]:
        return {"from": self.start, "to": self.end, "source": self.source}


def _leads(period: Period) -> QuerySet[Lead]:
    rows = Lead.objects.all()
    return rows.filter(source_id=period.source) if period.source is not None else rows


def funnel(period: Period) -> dict[str, Any]:
    """Per stage: leads that entered it in the period, how many of those moved on to the next
    stage (at any time since), and the median time they spent in it before leaving."""
    leads = _leads(period)
    entered = StageTransition.objects.filter(period.within("at"), lead__in=leads)
    created = leads.filter(period.within("created_at"))
    lead_ids = set(entered.values_list("lead_id", flat=True)) | set(
        created.values_list("pk", flat=True)
    )
    moves: dict[int, list[tuple[datetime, str, str]]] = defaultdict(list)
    for lead_id, at, src, dst in _transitions(lead_ids):
        moves[lead_id].append((at, src, dst))
    start, end = period.start, period.end

    def in_period(at: datetime) -> bool:
        return (start is None or at >= start) and (end is None or at < end)

    reached: dict[str, set[int]] = defaultdict(set)
    converted: dict[str, set[int]] = defaultdict(set)
    durations: dict[str, list[float]] = defaultdict(list)

    def entry(
        lead_id: int, stage: str, at: datetime, exit_: tuple[datetime, str, str] | None
    ) -> None:
        if not in_period(at):
            return
        reached[stage].add(lead_id)
        if exit_ is None:
            return
        durations[stage].append((exit_[0] - at).total_seconds() / 3600)
        if NEXT.get(stage) == exit_[2]:
            converted[stage].add(lead_id)

    for lead_id, created_at in created.values_list("pk", "created_at"):
        first = moves[lead_id][0] if moves[lead_id] else None
        if first is None or first[1] == Stage.NURTURING:
            entry(lead_id, Stage.NURTURING, created_at, first)
    for lead_id, rows in moves.items():
        for i, (at, _src, dst) in enumerate(rows):
            entry(lead_id, dst, at, rows[i + 1] if i + 1 < len(rows) else None)
    stages = []
    for stage in FUNNEL:
        count = len(reached[stage])
        moved = len(converted[stage])
        stages.append(
            {
                "stage": stage,
                "reached": count,
                "next_stage": NEXT.get(stage),
                "converted": moved if stage in NEXT else None,
                "conversion": round(moved / count, 4) if count and stage in NEXT else None,
                "median_hours_in_stage": (
                    round(median(durations[stage]), 2) if durations[stage] else None
                ),
            }
        )
    return {
        **period.as_dict(),
        "stages": stages,
        "outcomes": {stage: len(reached[stage]) for stage in OUTCOMES},
    }


def _transitions(lead_ids: Iterable[int]) -> Iterable[tuple[int, datetime, str, str]]:
    ids = sorted(lead_ids)
    for i in range(0, len(ids), 5000):
        yield from (
            StageTransition.objects.filter(lead_id__in=ids[i : i + 5000])
            .order_by("lead_id", "at", "id")
            .values_list("lead_id", "at", "from_stage", "to_stage")
            .iterator(5000)
        )


def rejections(period: Period) -> dict[str, Any]:
    """Why sales sent leads back: reject reasons by count (and recycle reasons beside them)."""
    rows = StageTransition.objects.filter(period.within("at"), lead__in=_leads(period))

    def by_reason(stage: str) -> list[dict[str, Any]]:
        counted = (
            rows.filter(to_stage=stage)
            .values("reason")
            .annotate(count=Count("id"))
            .order_by("-count", "reason")
        )
        return [{"reason": r["reason"] or "other", "count": r["count"]} for r in counted]

    reasons = by_reason(Stage.DISQUALIFIED)
    recycled = by_reason(Stage.RECYCLED)
    return {
        **period.as_dict(),
        "total": sum(r["count"] for r in reasons),
        "reasons": reasons,
        "recycled_total": sum(r["count"] for r in recycled),
        "recycle_reasons": recycled,
    }


def sla_compliance(*, now: datetime, days: int = 90) -> dict[str, Any]:
    """Of the MQL cycles that qualified in the last `days` and are settled (handled, or past
    their due time), the share accepted, rejected or recycled by the cycle's own due time.

    Each cycle is judged against the due time it got when it qualified (Qualification.
    sla_due_at), never the lead's current one, which belongs to its latest cycle; a cycle
    with a recorded breach at that due time is late even if the sweep reassigned it and the
    next rep was quick. Cycles still waiting and not yet due are not counted."""
    since = now - timedelta(days=days)
    handled = (
        StageTransition.objects.filter(
            lead_id=OuterRef("lead_id"), cycle=OuterRef("cycle"), from_stage=Stage.MQL
        )
        .exclude(to_stage=Stage.MQL)
        .order_by("at", "id")
        .values("at")[:1]
    )
    rows = list(
        Qualification.objects.filter(at__gte=since, at__lte=now, merged_from__isnull=True)
        .annotate(handled_at=Subquery(handled))
        .values_list("lead_id", "cycle", "at", "sla_due_at", "handled_at")
    )
    breaches = set(
        SlaBreach.objects.filter(
            merged_from__isnull=True, lead_id__in={r[0] for r in rows}
        ).values_list("lead_id", "cycle", "due_at")
    )
    policy = MqlPolicy.objects.first()
    hours = policy.sla_hours if policy else MqlPolicy._meta.get_field("sla_hours").default
    on_time = late = 0
    for lead_id, cycle, at, due_at, handled_at in rows:
        due = due_at or sla_due(at, hours=hours)
        if (lead_id, cycle, due) in breaches or (
            due <= now and (handled_at is None or handled_at > due)
        ):
            late += 1
        elif handled_at is not None:
            on_time += 1
    settled = on_time + late
    return {
        "due": settled,
        "breached": late,
        "on_time": on_time,
        "rate": round(100 * on_time / settled, 1) if settled else None,
    }
