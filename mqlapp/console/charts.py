"""Server-rendered SVG charts: one definition of axes, ticks, scales and text alternatives.

Every chart of the console is built here as a view model (geometry in SVG user units plus
localized labels) and drawn by one template, `console/_chart.html`. The SVG is scaled to its
card's width, so its units are chosen near the card's pixel width: text set at 13 units reads
at about 11–13 px at 100 % zoom. Values show on hover (`<title>`) and on keyboard focus
(bars and columns are focusable and reveal their value label), and every chart carries a
summary sentence (its accessible name) and a data table in a `<details>`.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from math import ceil, floor, log10
from typing import Any

from django.utils import formats, timezone
from django.utils.translation import gettext as _

WIDTH = 340
FONT = 13
LINE_HEIGHT = 220
COLUMN_HEIGHT = 200
BAR_ROW = 28
_PAD_TOP, _PAD_RIGHT, _PAD_BOTTOM = 14, 16, 30
_CJK_START = 0x2E80


def _text_width(text: str) -> float:
    """Rough rendered width of `text` at FONT units: CJK glyphs are about a full em."""
    return sum(FONT if ord(ch) >= _CJK_START else FONT * 0.6 for ch in text)


def number(value: float | Decimal, *, places: int = 0) -> str:
    """A value as the UI language writes it (grouping, decimal mark)."""
    return formats.number_format(round(float(value), places), places, use_l10n=True)


def nice_ticks(low: float, high: float, *, count: int = 5) -> list[float]:
    """Round tick values (1, 2 or 5 × 10^k apart) covering [low, high], at most ~`count`+1."""
    if high < low:
        low, high = high, low
    if high == low:
        high = low + 1
    raw = (high - low) / max(count, 1)
    magnitude = 10 ** floor(log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    start = floor(low / step) * step
    stop = ceil(high / step) * step
    ticks = []
    value = start
    while value <= stop + step / 1e6:
        ticks.append(round(value, 10))
        value += step
    return ticks


# --- time -------------------------------------------------------------------------------------

_DAY = timedelta(days=1)


def _day_label(moment: datetime) -> str:
    # Translators: a date on a chart's time axis (Django date format): "Nov 30"; ja "11/30"
    return formats.date_format(moment, _("M j"))


def _month_label(moment: datetime) -> str:
    # Translators: a month on a chart's time axis (Django date format): "Nov 2026"; ja "2026年11月"
    return formats.date_format(moment, _("M Y"))


def _hour_label(moment: datetime) -> str:
    return formats.date_format(moment, "H:i")


def day_label(day: date) -> str:
    """A day as a short axis label in the UI language (the week of a weekly chart)."""
    return formats.date_format(day, _("M j"))


def moment_label(moment: datetime) -> str:
    """A point's full local date and time in the UI language (tooltips, tables)."""
    return formats.date_format(timezone.localtime(moment), "DATETIME_FORMAT")


def date_label(moment: datetime | date) -> str:
    """A date in the UI language's long form (a moment: its local date)."""
    if isinstance(moment, datetime):
        moment = timezone.localtime(moment)
    return formats.date_format(moment, "DATE_FORMAT")


def time_ticks(start: datetime, end: datetime, *, count: int = 6) -> list[tuple[datetime, str]]:
    """Local-time ticks between `start` and `end`: hours, days, weeks (Mondays) or months
    (the 1st), whichever gives at most about `count`, each with its localized label."""
    start, end = timezone.localtime(start), timezone.localtime(end)
    span = end - start
    ticks: list[tuple[datetime, str]] = []
    if span <= timedelta(days=2):
        hours = next((h for h in (1, 2, 3, 6, 12, 24) if span / timedelta(hours=h) <= count), 24)
        moment = start.replace(minute=0, second=0, microsecond=0)
        moment += timedelta(hours=(-moment.hour) % hours)
        while moment <= end:
            if moment >= start:
                label = _day_label(moment) if moment.hour == 0 else _hour_label(moment)
                ticks.append((moment, label))
            moment += timedelta(hours=hours)
        return ticks
    if span <= timedelta(days=120):
        days = next((d for d in (1, 2, 7, 14, 28) if span / (d * _DAY) <= count), 28)
        moment = start.replace(hour=0, minute=0, second=0, microsecond=0)
        if days >= 7:  # noqa: PLR2004 (weeks start on Mondays)
            moment += _DAY * ((7 - moment.weekday()) % 7)
        elif moment < start:
            moment += _DAY
        while moment <= end:
            ticks.append((moment, _day_label(moment)))
            moment = timezone.localtime(moment + days * _DAY).replace(hour=0)
        return ticks
    months = next((m for m in (1, 2, 3, 6, 12, 24) if span.days / (30.4 * m) <= count), 60)
    year, month = start.year, start.month
    moment = start.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    while moment < start or (month - 1) % months:
        month += 1
        if month > 12:  # noqa: PLR2004
            year, month = year + 1, 1
        moment = moment.replace(year=year, month=month)
    while moment <= end:
        ticks.append((moment, _month_label(moment)))
        month += months
        while month > 12:  # noqa: PLR2004
            year, month = year + 1, month - 12
        moment = moment.replace(year=year, month=month)
    return ticks


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
    label_w = min(max(_text_width(label) for label, _v in rows) + 10, width * 0.4)
    value_w = max(_text_width(number(v, places=value_places)) for _l, v in rows) + 10
    if note:
        value_w += max(_text_width(n) for n in note) + 6
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
    y_w = max(_text_width(number(max(c for _a, _b, c in columns))), _text_width("00")) + 12
    left, right = y_w, width - _PAD_RIGHT
    top, bottom = _PAD_TOP + (FONT if threshold is not None else 0), height - _PAD_BOTTOM
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
    top, bottom = _PAD_TOP + FONT, height - _PAD_BOTTOM
    probe_ticks = nice_ticks(low, high)
    y_w = max(_text_width(number(t)) for t in probe_ticks) + 12
    left, right = y_w, width - _PAD_RIGHT
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
        half = _text_width(tick["label"]) / 2
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
