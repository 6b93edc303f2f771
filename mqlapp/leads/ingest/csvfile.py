"""Reading lead lists: encoding (UTF-8, BOM, Shift_JIS/CP932), delimiter, headers, rows."""

import codecs
import csv
import io
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

from ..parsing import event_time_error, moment_parse
from .fields import lead_input_clean, text_clean
from .messages import server_message_id, text_storable

# Column names people use, normalised by header_key(), for each field an import understands.
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "email": (
        "email",
        "emailaddress",
        "mail",
        "mailaddress",
        "メールアドレス",
        "メール",
        "eメール",
        "eメールアドレス",
        "電子メール",
        "電子メールアドレス",
    ),
    "last_name": ("lastname", "last", "familyname", "surname", "姓", "氏", "名字", "苗字"),
    "first_name": ("firstname", "first", "givenname", "名"),
    "name": ("name", "fullname", "氏名", "お名前", "名前", "担当者名", "フルネーム"),
    "company": (
        "company",
        "companyname",
        "organization",
        "organisation",
        "account",
        "会社名",
        "会社",
        "企業名",
        "社名",
        "法人名",
        "勤務先",
        "貴社名",
    ),
    "department": ("department", "dept", "division", "部署名", "部署", "部門", "所属", "所属部署"),
    "title": ("title", "jobtitle", "position", "役職", "役職名", "肩書", "肩書き"),
    "phone": ("phone", "phonenumber", "tel", "telephone", "電話番号", "電話", "tel番号", "連絡先"),
    "employees": (
        "employees",
        "employeecount",
        "numberofemployees",
        "companysize",
        "従業員数",
        "社員数",
        "従業員規模",
    ),
    "country": ("country", "国", "国名"),
    "industry": ("industry", "業種", "業界"),
    "event": ("event", "eventname", "イベント", "イベント名"),
    "timestamp": (
        "timestamp",
        "date",
        "datetime",
        "eventdate",
        "日時",
        "日付",
        "参加日",
        "参加日時",
        "開催日",
    ),
}
FIELDS = tuple(HEADER_ALIASES)
EXTRA = "extra"  # a column kept as data: the lead's traits, or the event's properties
_HEADER_INDEX = {alias: name for name, aliases in HEADER_ALIASES.items() for alias in aliases}
_JP_DATE = re.compile(
    r"^(\d{4})[年/.\-](\d{1,2})[月/.\-](\d{1,2})日?(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?)?$"
)
REPLACEMENT = "\ufffd"
TIMESTAMP_MAX_CHARS = 100  # "2025-04-01T14:00:00.000000+09:00" with room to spare


class FileInvalid(ValueError):
    """The whole file cannot be read (encoding, no header, no email column)."""


class RowInvalid(ValueError):
    """One row cannot be imported; the text says why."""


def header_key(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).strip().lower()
    return re.sub(r"[\s_\-・.:：()（）]", "", text)


def decode(data: bytes) -> tuple[str, str]:
    """The text and the encoding: a BOM wins; else strict UTF-8, else CP932 (Shift_JIS)."""
    for bom, name in (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (
            codecs.BOM_UTF16_BE,
            "utf-16",
        ),
    ):
        if data.startswith(bom):
            return data.decode(name, errors="replace"), name
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    # UTF-8 text with a few broken bytes stays UTF-8 (those rows fail), even where CP932 would
    # read every byte: CP932 takes almost any byte pair, garbling each Japanese cell.
    as_utf8 = data.decode("utf-8", errors="replace")
    if _mostly_utf8(as_utf8):
        return as_utf8, "utf-8"
    try:
        return data.decode("cp932"), "cp932"
    except UnicodeDecodeError:
        pass
    # Mostly one of them with a few broken bytes: keep the closer one, rows with U+FFFD fail.
    candidates = [(data.decode(n, errors="replace"), n) for n in ("utf-8", "cp932")]
    text, name = min(candidates, key=lambda c: c[0].count(REPLACEMENT))
    if text.count(REPLACEMENT) > max(10, len(text) // 100):
        raise FileInvalid("The file is neither UTF-8 nor Shift_JIS (CP932) text.")
    return text, name


def _mostly_utf8(text: str) -> bool:
    """Valid multibyte UTF-8 characters, and broken bytes only here and there."""
    broken = text.count(REPLACEMENT)
    readable = any(not c.isascii() and c != REPLACEMENT for c in text)
    return readable and broken <= max(10, len(text) // 100)


def delimiter_of(text: str) -> str:
    """The file's delimiter: tab, comma or semicolon, whichever the header line (the first
    line that is not blank) has most of."""
    header = next((line for line in text.splitlines() if line.strip()), "")
    return max(("\t", ",", ";"), key=header.count)


def with_event_column(text: str, event: str) -> bytes:
    """The file (UTF-8) with an `event` column holding `event` on every row; rows keep their
    numbers, so row errors still point at the uploaded file's rows."""
    delimiter = delimiter_of(text)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    seen_header = False
    for cells in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter):
        if not any(cell.strip() for cell in cells):
            writer.writerow([])
            continue
        writer.writerow([*cells, event if seen_header else "event"])
        seen_header = True
    return out.getvalue().encode("utf-8")


def records(text: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header and the data rows with their row numbers (the header is row 1)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter_of(text))
    header: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    try:
        for number, cells in enumerate(reader, start=1):
            if not any(cell.strip() for cell in cells):
                continue
            if header is None:
                header = [cell.strip() for cell in cells]
                continue
            rows.append((number, cells))
    except csv.Error as exc:  # a cell past the csv module's field limit (128 KiB), a stray NUL
        raise FileInvalid(f"Line {reader.line_num} cannot be read as CSV: {exc}") from exc
    if header is None:
        raise FileInvalid("The file is empty: it needs a header row and rows of leads.")
    return header, rows


def mapping_resolve(header: list[str], override: dict[str, str] | None = None) -> dict[str, str]:
    """Column name → field, EXTRA (kept as data: unknown names) or "" (ignored)."""
    override = override or {}
    unknown = {v for v in override.values() if v and v not in (*FIELDS, EXTRA)}
    if unknown:
        raise FileInvalid(f"mapping names unknown fields: {', '.join(sorted(unknown))}")
    mapping: dict[str, str] = {}
    for column in header:
        if not column:
            continue
        if column in override:
            mapping[column] = override[column]
        else:
            mapping[column] = _HEADER_INDEX.get(header_key(column), EXTRA)
    if "email" not in mapping.values():
        raise FileInvalid("No email column: name one メールアドレス or email, or map it (mapping).")
    return mapping


@dataclass
class Row:
    number: int
    lead: dict[str, Any]
    extra: dict[str, str] = field(default_factory=dict)
    event: str = ""
    timestamp: datetime | None = None
    timestamp_text: str = ""

    def event_id(self) -> str:
        """Same person, event, time and details → same id: importing a file again adds nothing."""
        extras = "\x1f".join(f"{k}={v}" for k, v in sorted(self.extra.items()))
        text = f"{self.lead['email']}\x1f{self.event}\x1f{self.timestamp_text}\x1f{extras}"
        return server_message_id("import", text)


def row_parse(number: int, cells: list[str], header: list[str], mapping: dict[str, str]) -> Row:
    if any(REPLACEMENT in cell for cell in cells):
        raise RowInvalid("the row holds bytes that are not valid text in the file's encoding")
    if not all(text_storable(cell) for cell in cells):
        raise RowInvalid("the row holds a NUL character")
    values: dict[str, str] = {}
    extra: dict[str, str] = {}
    for column, raw in zip(header, cells, strict=False):
        target = mapping.get(column, "")
        cell = raw.strip()
        if not cell or not target:
            continue
        if target == EXTRA:
            extra[column[:100]] = cell[:1000]
        else:
            values.setdefault(target, cell)
    if "name" in values and not (values.get("last_name") or values.get("first_name")):
        # family name first, as Japanese lists write it: 山田 太郎
        parts = text_clean(values["name"]).split(None, 1)
        values["last_name"] = parts[0]
        if len(parts) > 1:
            values["first_name"] = parts[1]
    lead, errors = lead_input_clean(values)
    if "email" not in lead and "email" not in errors:
        errors["email"] = "an email address is required"
    if errors:
        raise RowInvalid("; ".join(f"{name}: {text}" for name, text in errors.items()))
    row = Row(number=number, lead=lead, extra=extra, event=values.get("event", "")[:200])
    if values.get("timestamp"):
        row.timestamp_text = values["timestamp"]
        row.timestamp = timestamp_parse(values["timestamp"])
    return row


def timestamp_parse(text: str) -> datetime:
    """ISO 8601, 2025/04/01, 2025-04-01 14:00, 2025年4月1日; local time is TIME_ZONE."""
    if len(text) > TIMESTAMP_MAX_CHARS:  # bounded before it is cleaned or matched
        raise RowInvalid(f"timestamp: not a date or time: {text[:40]!r}")
    text = text_clean(text)
    local = ZoneInfo(settings.TIME_ZONE)
    parsed = moment_parse(text)
    if parsed is None:
        match = _JP_DATE.match(text)
        if not match:
            raise RowInvalid(f"timestamp: not a date or time: {text[:40]!r}")
        year, month, day, hour, minute, second = match.groups()
        try:
            day_at = date(int(year), int(month), int(day))
            at = time(int(hour or 0), int(minute or 0), int(second or 0))
        except ValueError as exc:
            raise RowInvalid(f"timestamp: not a date or time: {text[:40]!r}") from exc
        parsed = datetime.combine(day_at, at)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=local)
    problem = event_time_error(parsed, now=timezone.now())
    if problem:
        raise RowInvalid(f"timestamp: {text[:40]!r} {problem}")
    return parsed
