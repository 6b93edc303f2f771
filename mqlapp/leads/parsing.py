"""Reading dates, times, numbers and list limits from input (API parameters, messages, CSV
cells): one definition that every layer uses. Numbers inside stored data (rule conditions,
traits) are read by the scoring engine's `as_number` (pure); employee counts by
`ingest.fields`. Every query parameter of the API is read by one of the `*_param` functions
here: a value they refuse is a 400 naming the parameter, never a 500."""

import re
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from .errors import InvalidInput

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_WHOLE = re.compile(r"[0-9]{1,19}")  # ASCII digits only (str.isdigit takes "²" and "٣")
_DECIMAL = re.compile(r"[+-]?[0-9]{1,60}(?:\.[0-9]{1,60})?")

# The time an event can have: nothing a marketing system sees happened before the Unix epoch,
# and a time further ahead than the horizon is a wrong date, not a skewed clock
# (docs/ingestion.md, "Time").
EVENT_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
EVENT_HORIZON_YEARS = 5
EVENT_HORIZON = timedelta(days=EVENT_HORIZON_YEARS * 366)


def _iso(text: str) -> datetime | None:
    try:
        return parse_datetime(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None


def moment_parse(text: str) -> datetime | None:
    """An ISO 8601 date-time ("Z" for UTC); None when it is not one or names an impossible
    moment (2025-02-30, or one that is not within years 1 to 9999 in UTC: see
    `moment_out_of_range`). A time without a zone comes back naive: the caller picks the zone."""
    moment = _iso(text)
    if moment is not None and moment.utcoffset() is not None:
        try:
            moment.astimezone(UTC)  # 0001-01-01T00:00+09:00 is before year 1 in UTC
        except OverflowError:
            return None
    return moment


def moment_out_of_range(text: str) -> bool:
    """A well-formed ISO 8601 time that is not within years 1 to 9999 in UTC."""
    return _iso(text) is not None and moment_parse(text) is None


def event_time_error(moment: datetime, *, now: datetime) -> str | None:
    """Why `moment` cannot be an event's time (None when it can): it must be an aware time
    from 1970-01-01 UTC up to EVENT_HORIZON after `now`."""
    if moment < EVENT_EARLIEST:
        return "is before 1970-01-01"
    if moment > now + EVENT_HORIZON:
        return f"is more than {EVENT_HORIZON_YEARS} years in the future"
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


# --- query parameters -------------------------------------------------------------------------

LIMIT_MAX = 10_000  # the most rows a list answer holds
ID_MAX = 2**63 - 1  # a row id is a bigint
NUMBER_MAX = Decimal("1e15")  # no score, count or amount a filter compares is larger


def param_invalid(name: str, requirement: str) -> InvalidInput:
    """The one 400 of a query parameter: `{"error": "<name> must be …", "fields": {name: […]}}`."""
    message = f"{name} must be {requirement}"
    return InvalidInput(message, fields={name: [message]})


def whole_param(value: str | None, *, name: str, low: int, high: int) -> int | None:
    """A whole number from `low` to `high` written in ASCII digits; None when absent."""
    if value is None or value == "":
        return None
    text = value.strip()
    if not _WHOLE.fullmatch(text) or not low <= int(text) <= high:
        raise param_invalid(name, f"a whole number from {low} to {high}")
    return int(text)


def id_param(value: str | None, *, name: str) -> int | None:
    """A row id (a whole number from 1 to 2^63-1); None when absent."""
    try:
        return whole_param(value, name=name, low=1, high=ID_MAX)
    except InvalidInput:
        raise param_invalid(name, "an id (a whole number from 1)") from None


def limit_param(value: str | None, *, default: int, high: int = LIMIT_MAX) -> int:
    """A `limit` query parameter: a whole number from 1 to `high` (400 otherwise)."""
    limit = whole_param(value, name="limit", low=1, high=high)
    return default if limit is None else limit


def number_param(value: str | None, *, name: str) -> Decimal | None:
    """A decimal number such as 10, -5 or 42.5, at most NUMBER_MAX in size; None when absent.
    NaN, Infinity and exponents (1e309) are refused."""
    if value is None or value == "":
        return None
    text = value.strip()
    try:
        number = Decimal(text) if _DECIMAL.fullmatch(text) else None
    except InvalidOperation:
        number = None
    if number is None or abs(number) > NUMBER_MAX:
        raise param_invalid(name, f"a number such as 10 or -2.5, at most {NUMBER_MAX:,.0f}")
    return number


def moment_param(
    value: str | None, *, name: str, end: bool = False, zone_required: bool = False
) -> datetime | None:
    """A moment: an ISO 8601 date-time, or (unless `zone_required`) a day YYYY-MM-DD, which
    means its local midnight, or the next one when `end` (a whole day, inclusive). A time
    without a zone is local time (TIME_ZONE). None when absent."""
    if value is None or value == "":
        return None
    day = None if zone_required else day_parse(value)
    if day is not None:
        midnight = datetime.combine(day, time.min)
        try:
            moment = timezone.make_aware(midnight + timedelta(days=1) if end else midnight)
        except OverflowError:
            moment = None
    else:
        parsed = moment_parse(value)
        if parsed is None or (zone_required and parsed.utcoffset() is None):
            moment = None
        else:
            moment = parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)
    if moment is None:
        if zone_required:
            raise param_invalid(
                name, "an ISO 8601 time with a zone, e.g. 2025-06-01T00:00:00+09:00"
            )
        raise param_invalid(name, "a date (YYYY-MM-DD) or an ISO 8601 date-time")
    return moment


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
