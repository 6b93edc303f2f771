"""Reading dates and times from input (API parameters, messages, CSV cells): one definition
that every layer uses. Numbers are read by the scoring engine's `as_number` (pure), which the
layers above the core share; the core reads only whole numbers (employees), in `services`."""

import re
from datetime import date, datetime

from django.utils.dateparse import parse_datetime

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def moment_parse(text: str) -> datetime | None:
    """An ISO 8601 date-time ("Z" for UTC); None when it is not one or names an impossible
    moment (2025-02-30). A time without a zone comes back naive: the caller picks the zone."""
    try:
        return parse_datetime(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None


def day_parse(text: str) -> date | None:
    """A calendar day written YYYY-MM-DD; None otherwise (impossible days included)."""
    text = text.strip()
    if not _DAY.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None
