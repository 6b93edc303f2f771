"""Chart axes: sizes, number formatting, round value ticks and local-time date ticks, each
label in the UI language."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from math import ceil, floor, log10

from django.utils import formats, timezone
from django.utils.translation import gettext as _

WIDTH = 340
FONT = 13
LINE_HEIGHT = 220
COLUMN_HEIGHT = 200
BAR_ROW = 28
PAD_TOP, PAD_RIGHT, PAD_BOTTOM = 14, 16, 30
_CJK_START = 0x2E80


def text_width(text: str) -> float:
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
