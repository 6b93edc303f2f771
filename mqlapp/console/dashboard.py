"""Reads behind the dashboard: funnel, MQLs per week, SLA compliance, rejections, scores."""

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, F, Max, Min
from django.db.models.functions import Floor, TruncWeek
from django.utils import timezone

from handoff.models import Qualification, SlaBreach
from handoff.reports import Period, funnel, rejections
from scoring.models import LeadScore, ScoreHistory

from .labels import label

SCORE_BUCKET = 20


def _bars(rows: list[tuple[str, float]], *, unit: str = "") -> list[dict[str, Any]]:
    """Label/value rows with each bar's share of the largest (0–100) for SVG widths."""
    top = max((value for _, value in rows), default=0) or 1
    return [
        {"label": label, "value": value, "pct": round(100 * value / top, 1), "unit": unit}
        for label, value in rows
    ]


def _coded(kind: str, rows: list[tuple[str, float]]) -> list[dict[str, Any]]:
    """Bars of stored codes: each labelled in words (mqlapp.console.labels), its code kept."""
    bars = _bars([(label(kind, code), value) for code, value in rows])
    for bar, (code, _) in zip(bars, rows, strict=True):
        bar["code"] = code
    return bars


def mqls_per_week(*, now: datetime, weeks: int = 12) -> list[dict[str, Any]]:
    start = timezone.localtime(now) - timedelta(weeks=weeks)
    counted = dict(
        Qualification.objects.filter(at__gte=start)
        .annotate(week=TruncWeek("at"))
        .values_list("week")
        .annotate(n=Count("lead_id"))
        .values_list("week", "n")
    )
    first = (timezone.localtime(now) - timedelta(days=timezone.localtime(now).weekday())).date()
    rows = []
    for i in reversed(range(weeks)):
        day = first - timedelta(weeks=i)
        n = next((v for k, v in counted.items() if timezone.localtime(k).date() == day), 0)
        rows.append((day.strftime("%m/%d"), float(n)))
    return _bars(rows)


def sla_compliance(*, now: datetime, days: int = 90) -> dict[str, Any]:
    """Of the MQLs whose SLA has come due in the period, the share handled in time."""
    since = now - timedelta(days=days)
    due = Qualification.objects.filter(at__gte=since, lead__lifecycle__sla_due_at__lte=now).count()
    breached = SlaBreach.objects.filter(at__gte=since).values("lead_id", "cycle").distinct().count()
    on_time = max(due - breached, 0)
    return {
        "due": due,
        "breached": breached,
        "on_time": on_time,
        "rate": round(100 * on_time / due, 1) if due else None,
    }


def score_distribution() -> list[dict[str, Any]]:
    bounds = LeadScore.objects.aggregate(low=Min("score"), high=Max("score"))
    if bounds["low"] is None:
        return []
    counted = dict(
        LeadScore.objects.annotate(bucket=Floor(F("score") / SCORE_BUCKET))
        .values_list("bucket")
        .annotate(n=Count("lead_id"))
        .values_list("bucket", "n")
    )
    rows = []
    for bucket in range(int(min(counted)), int(max(counted)) + 1):
        low = bucket * SCORE_BUCKET
        rows.append((f"{low}–{low + SCORE_BUCKET}", float(counted.get(bucket, 0))))
    return _bars(rows)


def dashboard_data(*, now: datetime | None = None) -> dict[str, Any]:
    now = now or timezone.now()
    everything = Period({})
    stages = funnel(everything)["stages"]
    reasons = rejections(everything)["reasons"]
    return {
        "funnel": _coded("stage", [(row["stage"], float(row["reached"])) for row in stages]),
        "conversions": stages,
        "mqls_per_week": mqls_per_week(now=now),
        "sla": sla_compliance(now=now),
        "rejections": _coded("reason", [(row["reason"], float(row["count"])) for row in reasons]),
        "scores": score_distribution(),
    }


def score_chart(
    points: Sequence[ScoreHistory], *, width: int = 300, height: int = 80
) -> dict[str, Any]:
    """An SVG polyline (step-wise: a score holds until it changes) for a lead's score history."""
    if not points:
        return {"points": "", "width": width, "height": height, "low": 0, "high": 0}
    scores: list[float] = [float(p.score) for p in points]
    low, high = min([*scores, 0.0]), max([*scores, 0.0])
    span = (high - low) or 1.0
    step = width / max(len(points) - 1, 1)

    def y(score: float) -> float:
        return float(round(height - (score - low) / span * height, 1))

    coords: list[str] = []
    for i, score in enumerate(scores):
        x = round(i * step, 1)
        if coords:
            coords.append(f"{x},{y(scores[i - 1])}")
        coords.append(f"{x},{y(score)}")
    return {
        "points": " ".join(coords),
        "width": width,
        "height": height,
        "low": low,
        "high": high,
        "zero": y(0.0),
        "first": points[0].at,
        "last": points[-1].at,
    }
