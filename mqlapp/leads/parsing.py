"""Reading dates, times and list limits from input (API parameters, messages, CSV cells): one
definition that every layer uses. Decimal numbers are read by the scoring engine's `as_number`
(pure), which the layers above the core share; employee counts by `ingest.fields`."""

import re
from datetime import date, datetime
from decimal import Decimal

from django.utils.dateparse import parse_datetime

from .errors import InvalidInput

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


LIMIT_MAX = 10_000  # the most rows a list answer holds


def limit_param(value: str | None, *, default: int) -> int:
    """A `limit` query parameter: a whole number from 1 to LIMIT_MAX (400 otherwise)."""
    text = str(default) if value is None else value
    if not text.isdigit() or not 1 <= int(text) <= LIMIT_MAX:
        raise InvalidInput(
            f"limit must be a whole number from 1 to {LIMIT_MAX}", fields={"limit": [text]}
        )
    return int(text)


# The largest value a PostgreSQL `integer` column holds (Django's IntegerField and
# PositiveIntegerField): bigger input is refused with a 400, never sent to the database.
INT_MAX = 2_147_483_647


def decimal_fits(value: Decimal, *, max_digits: int, decimal_places: int) -> bool:
    """Whether `value`, rounded to `decimal_places`, fits a numeric(max_digits,
    decimal_places) column (a larger one makes PostgreSQL raise "numeric field overflow")."""
    if not value.is_finite():
        return False
    return (
        abs(value)
        < Decimal(10) ** (max_digits - decimal_places) - Decimal(1).scaleb(-decimal_places) / 2
    )
