"""Chart view models: horizontal bars, columns on a numeric scale, a line over time."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.utils.translation import gettext as _

from .axes import (
    BAR_ROW,
    COLUMN_HEIGHT,
    FONT,
    LINE_HEIGHT,
    PAD_BOTTOM,
    PAD_RIGHT,
    PAD_TOP,
    WIDTH,
    date_label,
    moment_label,
    nice_ticks,
    number,
    text_width,
    time_ticks,
)

# --- view models ------------------------------------------------------------------------------


@dataclass
class Chart:
    """What `console/_chart.html` draws; `kind` is "bars", "columns" or "line"."""

    kind: str
    title: str
    summary: str
    width: int
    height: int
    headers: tuple[str, str]
    table: list[tuple[str, str]]
    marks: list[dict[str, Any]] = field(default_factory=list)
    x_ticks: list[dict[str, Any]] = field(default_factory=list)
    y_ticks: list[dict[str, Any]] = field(default_factory=list)
    plot: dict[str, float] = field(default_factory=dict)
    path: str = ""
    area: str = ""
    threshold: dict[str, Any] | None = None
    empty: bool = False

    def __bool__(self) -> bool:
        return not self.empty


def _empty(kind: str, title: str) -> Chart:
    return Chart(
        kind=kind,
        title=title,
        summary=_("No data yet."),
        width=WIDTH,
        height=0,
        headers=("", ""),
        table=[],
        empty=True,
    )


def bar_chart(
    rows: Sequence[tuple[str, float]],
    *,
    title: str,
    headers: tuple[str, str],
    value_places: int = 0,
    note: Sequence[str] | None = None,
    tones: Sequence[str] | None = None,
    width: int = WIDTH,
) -> Chart:
    """Horizontal bars, one per labelled row (funnel stages, reasons): label, bar, value.
    `note`: an optional extra text per row (e.g. a conversion rate), shown after the value;
    `tones`: an optional CSS tone per row ("good", "bad", "")."""
    if not rows:
        return _empty("bars", title)
    label_w = min(max(text_width(label) for label, _v in rows) + 10, width * 0.4)
    value_w = max(text_width(number(v, places=value_places)) for _l, v in rows) + 10
    if note:
        value_w += max(text_width(n) for n in note) + 6
    top = max((v for _l, v in rows), default=0) or 1
    span = width - label_w - value_w - 4
    marks: list[dict[str, Any]] = []
    for i, (label, value) in enumerate(rows):
        bar_w = round(span * max(value, 0) / top, 1)
        text = number(value, places=value_places)
        if note and note[i]:
            text = f"{text}  {note[i]}"
        marks.append(
            {
                "y": i * BAR_ROW,
                "text_y": i * BAR_ROW + BAR_ROW * 0.62,
                "label": label,
                "label_x": label_w - 8,
                "x": label_w,
                "width": max(bar_w, 1.5 if value else 0),
                "bar_y": i * BAR_ROW + 4,
                "bar_h": BAR_ROW - 8,
                "value_x": label_w + bar_w + 6,
                "value": text,
                "tip": f"{label}: {text}",
                "tone": tones[i] if tones else "",
            }
        )
    total = sum(v for _l, v in rows)
    biggest = max(rows, key=lambda r: r[1])
    summary = _("%(title)s: %(n)s rows, total %(total)s; largest %(label)s (%(value)s).") % {
        "title": title,
        "n": len(rows),
        "total": number(total, places=value_places),
        "label": biggest[0],
        "value": number(biggest[1], places=value_places),
    }
    return Chart(
        kind="bars",
        title=title,
        summary=summary,
        width=width,
        height=len(rows) * BAR_ROW,
        headers=headers,
        table=[(m["label"], m["value"]) for m in marks],
        marks=marks,
    )


def _y_axis(low: float, high: float, *, top: float, bottom: float) -> tuple[Any, list[float]]:
    ticks = nice_ticks(low, high)
    lo, hi = ticks[0], ticks[-1]

    def y(value: float) -> float:
        return round(bottom - (value - lo) / ((hi - lo) or 1) * (bottom - top), 1)

    return y, ticks


def _plot(left: float, right: float, top: float, bottom: float) -> dict[str, float]:
    return {
        "left": left,
        "right": right,
        "top": top,
        "bottom": bottom,
        "label_x": left - 6,
        "tick_y": bottom + 20,
        "tick_end": bottom + 5,
    }


def _y_ticks(y: Any, ticks: Sequence[float], *, places: int = 0) -> list[dict[str, Any]]:
    return [
        {"y": y(t), "text_y": y(t) + FONT * 0.35, "label": number(t, places=places)} for t in ticks
    ]


def column_chart(
    columns: Sequence[tuple[float, float, float]],
    *,
    title: str,
    headers: tuple[str, str],
    labels: Sequence[str],
    tick_labels: Sequence[str] | None = None,
    threshold: float | None = None,
    threshold_label: str = "",
    x_range: tuple[float, float] | None = None,
    width: int = WIDTH,
) -> Chart:
    """Vertical columns on a numeric x scale: (x_from, x_to, count) each, e.g. score buckets
    or weeks (as day numbers). `labels` name each column (tooltips, table); `tick_labels`
    (one per column, "" to skip) go under the axis. A `threshold` draws a vertical line at
    that x."""
    if not columns:
        return _empty("columns", title)
    height = COLUMN_HEIGHT
    y_w = max(text_width(number(max(c for _a, _b, c in columns))), text_width("00")) + 12
    left, right = y_w, width - PAD_RIGHT
    top, bottom = PAD_TOP + (FONT if threshold is not None else 0), height - PAD_BOTTOM
    x0 = x_range[0] if x_range else min(a for a, _b, _c in columns)
    x1 = x_range[1] if x_range else max(b for _a, b, _c in columns)
    if threshold is not None:
        x0, x1 = min(x0, threshold), max(x1, threshold)
    scale = (right - left) / ((x1 - x0) or 1)

    def x(value: float) -> float:
        return round(left + (value - x0) * scale, 1)

    y, ticks = _y_axis(0, max(c for _a, _b, c in columns) or 1, top=top, bottom=bottom)
    marks = []
    for i, (a, b, count) in enumerate(columns):
        x_a, x_b = x(a), x(b)
        gap = min(2.0, (x_b - x_a) / 6)
        value = number(count)
        marks.append(
            {
                "x": x_a + gap,
                "width": max(x_b - x_a - 2 * gap, 1),
                "y": y(count),
                "height": round(bottom - y(count), 1),
                "mid": round((x_a + x_b) / 2, 1),
                "value_y": y(count) - 4,
                "value": value,
                "label": labels[i],
                "tip": f"{labels[i]}: {value}",
                "tick": tick_labels[i] if tick_labels else "",
            }
        )
    line = None
    if threshold is not None:
        line = {
            "x": x(threshold),
            "top": top,
            "bottom": bottom,
            "label": threshold_label,
            "label_y": top - 4,
            "anchor": "end" if x(threshold) > (left + right) / 2 else "start",
        }
    total = sum(c for _a, _b, c in columns)
    biggest = max(range(len(columns)), key=lambda i: columns[i][2])
    summary = _("%(title)s: total %(total)s; largest %(label)s (%(value)s).") % {
        "title": title,
        "total": number(total),
        "label": labels[biggest],
        "value": number(columns[biggest][2]),
    }
    if line is not None and threshold_label:
        summary = f"{summary} {threshold_label}."
    return Chart(
        kind="columns",
        title=title,
        summary=summary,
        width=width,
        height=height,
        headers=headers,
        table=[(m["label"], m["value"]) for m in marks],
        marks=marks,
        y_ticks=_y_ticks(y, ticks),
        plot=_plot(left, right, top, bottom),
        threshold=line,
    )


def line_chart(
    points: Sequence[tuple[datetime, float, bool]],
    *,
    title: str,
    headers: tuple[str, str],
    threshold: float | None = None,
    threshold_label: str = "",
    max_marks: int = 60,
    width: int = WIDTH,
) -> Chart:
    """A value over time, time-scaled: `points` are (moment, value, marked) in time order;
    marked points get a dot with the date and value (hover) and a row in the table. The line
    is straight between points: the caller gives a point before and after each jump."""
    if not points:
        return _empty("line", title)
    height = LINE_HEIGHT
    values = [float(v) for _t, v, _m in points]
    low, high = min([*values, 0.0]), max([*values, 0.0])
    if threshold is not None:
        low, high = min(low, threshold), max(high, threshold)
    start, end = points[0][0], points[-1][0]
    if end <= start:
        end = start + timedelta(hours=1)
    top, bottom = PAD_TOP + FONT, height - PAD_BOTTOM
    probe_ticks = nice_ticks(low, high)
    y_w = max(text_width(number(t)) for t in probe_ticks) + 12
    left, right = y_w, width - PAD_RIGHT
    y, ticks = _y_axis(low, high, top=top, bottom=bottom)
    seconds = (end - start).total_seconds()

    def x(moment: datetime) -> float:
        return round(left + (moment - start).total_seconds() / seconds * (right - left), 1)

    coords = [f"{x(t)},{y(float(v))}" for t, v, _m in points]
    path = "M" + " L".join(coords)
    area = f"{path} L{x(end)},{y(0.0)} L{x(start)},{y(0.0)} Z"
    marked = [p for p in points if p[2]]
    if len(marked) > max_marks:  # keep the latest ones: the recent past matters most
        marked = marked[-max_marks:]
    marks = [
        {
            "x": x(t),
            "y": y(float(v)),
            "value": number(v, places=1 if float(v) % 1 else 0),
            "label": moment_label(t),
            "tip": f"{moment_label(t)}: {number(v, places=2 if float(v) % 1 else 0)}",
        }
        for t, v, _m in marked
    ]
    x_ticks: list[dict[str, Any]] = [
        {"x": x(t), "label": label, "anchor": "middle"} for t, label in time_ticks(start, end)
    ]
    for tick in x_ticks:  # keep the outermost labels inside the chart
        half = text_width(tick["label"]) / 2
        if tick["x"] - half < left:
            tick["anchor"] = "start"
        elif tick["x"] + half > right:
            tick["anchor"] = "end"
    line = None
    if threshold is not None:
        line = {
            "y": y(threshold),
            "left": left,
            "right": right,
            "label": threshold_label,
            "label_y": y(threshold) - 4,
        }
    summary = _(
        "%(title)s from %(start)s to %(end)s: from %(first)s to %(last)s "
        "(lowest %(low)s, highest %(high)s)."
    ) % {
        "title": title,
        "start": date_label(start),
        "end": date_label(end),
        "first": number(values[0]),
        "last": number(values[-1]),
        "low": number(min(values)),
        "high": number(max(values)),
    }
    if line is not None and threshold_label:
        summary = f"{summary} {threshold_label}."
    return Chart(
        kind="line",
        title=title,
        summary=summary,
        width=width,
        height=height,
        headers=headers,
        table=[(m["label"], m["value"]) for m in marks],
        marks=marks,
        x_ticks=x_ticks,
        y_ticks=_y_ticks(y, ticks),
        plot=_plot(left, right, top, bottom),
        path=path,
        area=area,
        threshold=line,
    )
