"""Reads behind the dashboard: funnel, MQLs per week, SLA compliance, rejections, scores."""

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from math import ceil
from typing import Any

from django.db.models import Count, F, Max, Min
from django.db.models.functions import Floor, TruncWeek
from django.utils import timezone
from django.utils.translation import gettext as _

from handoff.lifecycle import Stage
from handoff.models import Qualification
from handoff.reports import Period, funnel, rejections, sla_compliance
from handoff.services import policy_get
from scoring.models import LeadScore
from scoring.services import score_path

from . import charts
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
    for bar, (code, _value) in zip(bars, rows, strict=True):
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
        rows.append((day, float(n)))
    return [
        {
            **bar,
            "label": charts.day_label(day),
            "week_label": charts.date_label(day),
        }
        for bar, (day, _n) in zip(_bars([(str(d), n) for d, n in rows]), rows, strict=True)
    ]


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
    return [
        {**bar, "from": low, "to": low + SCORE_BUCKET}
        for bar, low in zip(
            _bars(rows),
            range(
                int(min(counted)) * SCORE_BUCKET,
                (int(max(counted)) + 1) * SCORE_BUCKET,
                SCORE_BUCKET,
            ),
            strict=True,
        )
    ]


def _stage_label(code: str) -> str:
    try:
        return str(Stage(code).label)
    except ValueError:
        return code


def score_columns(
    buckets: Sequence[Mapping[str, Any]],
    *,
    threshold: Decimal | float | None,
    title: str,
    width: int = charts.WIDTH,
) -> charts.Chart:
    """A score histogram ({from, to, count} buckets) with the MQL threshold as a line: the
    dashboard's score distribution and the policy simulator's."""
    columns = [(float(b["from"]), float(b["to"]), float(b["count"])) for b in buckets]
    labels = [f"{charts.number(a)}–{charts.number(b)}" for a, b, _c in columns]
    every = max(1, ceil(len(columns) / 8))
    ticks = [labels[i] if i % every == 0 else "" for i in range(len(columns))]
    line = None if threshold is None else float(threshold)
    return charts.column_chart(
        columns,
        title=title,
        headers=(_("Score"), _("Leads")),
        labels=labels,
        tick_labels=[t.split("–")[0] for t in ticks],
        width=width,
        threshold=line,
        threshold_label=(
            _("MQL threshold %(t)s") % {"t": charts.number(line, places=0 if line % 1 == 0 else 2)}
            if line is not None
            else ""
        ),
    )


def dashboard_charts(data: Mapping[str, Any], *, threshold: Decimal) -> dict[str, charts.Chart]:
    """The dashboard's charts from its numbers (one chart module: mqlapp/console/charts.py)."""
    weeks = data["mqls_per_week"]
    week_columns = [(float(i), float(i + 1), float(row["value"])) for i, row in enumerate(weeks)]
    week_labels = [row["week_label"] for row in weeks]
    scores = [
        {"from": row["from"], "to": row["to"], "count": row["value"]} for row in data["scores"]
    ]
    return {
        "funnel": charts.bar_chart(
            [(_stage_label(row["label"]), row["value"]) for row in data["funnel"]],
            title=_("Funnel"),
            headers=(_("Stage"), _("Reached")),
        ),
        "mqls_per_week": charts.column_chart(
            week_columns,
            title=_("MQLs per week"),
            headers=(_("Week of"), _("MQLs")),
            labels=week_labels,
            # every other week under the axis (each one in its tooltip and the table)
            tick_labels=[
                row["label"] if (len(weeks) - 1 - i) % 2 == 0 else "" for i, row in enumerate(weeks)
            ],
        )
        if any(row["value"] for row in weeks)
        else charts.bar_chart([], title=_("MQLs per week"), headers=("", "")),
        "sla": charts.bar_chart(
            [(_("Within the SLA"), data["sla"]["on_time"]), (_("Late"), data["sla"]["breached"])],
            title=_("SLA compliance"),
            headers=(_("MQLs"), _("Count")),
            tones=["good", "bad"],
        )
        if data["sla"]["due"]
        else charts.bar_chart([], title=_("SLA compliance"), headers=("", "")),
        "rejections": charts.bar_chart(
            [(row["label"], row["value"]) for row in data["rejections"]],
            title=_("Rejection reasons"),
            headers=(_("Reason"), _("Leads")),
        ),
        "scores": score_columns(scores, threshold=threshold, title=_("Score distribution")),
    }


def dashboard_data(*, now: datetime | None = None) -> dict[str, Any]:
    now = now or timezone.now()
    everything = Period({})
    stages = funnel(everything)["stages"]
    reasons = rejections(everything)["reasons"]
    data = {
        "funnel": _coded("stage", [(row["stage"], float(row["reached"])) for row in stages]),
        "conversions": stages,
        "mqls_per_week": mqls_per_week(now=now),
        "sla": sla_compliance(now=now),
        "rejections": _coded("reason", [(row["reason"], float(row["count"])) for row in reasons]),
        "scores": score_distribution(),
    }
    data["charts"] = dashboard_charts(data, threshold=policy_get().mql_threshold)
    return data


def score_path_chart(
    lead_id: int, *, recycles: Sequence[datetime], threshold: Decimal
) -> charts.Chart:
    """The lead page's score over time: derived from its events since the first one
    (scoring.services.score_path), time-scaled, with the MQL threshold as a line."""
    path = score_path(lead_id, epochs=recycles)
    return charts.line_chart(
        [(p.at, float(p.score), p.event) for p in path],
        title=_("Score over time"),
        headers=(_("When"), _("Score")),
        threshold=float(threshold),
        width=540,
        threshold_label=_("MQL threshold %(t)s")
        % {"t": charts.number(threshold, places=0 if threshold % 1 == 0 else 2)},
    )
