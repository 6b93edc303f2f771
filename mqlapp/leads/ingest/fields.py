"""Checks for lead fields typed by people (forms, CSV files): email, phone, employees, lengths."""

import re
import unicodedata
from typing import Any

from ..models import LEAD_TEXT_LIMITS, PROFILE_FIELDS
from .messages import email_normalise, email_valid

# Lead fields people may send, with the names Japanese forms and spreadsheets use for them.
LEAD_INPUT_FIELDS = ("email", *PROFILE_FIELDS)
MAX_LENGTHS = {name: LEAD_TEXT_LIMITS.get(name) for name in LEAD_INPUT_FIELDS}
# Every value is bounded before it is cleaned or matched, and every pattern is linear in its
# input: none starts with a repeat that a failed match would retry from each position (the old
# `\s*...$` forms took time quadratic in the length of a run of spaces). Trailing spaces are
# cut with str.rstrip(), and the patterns match what is left, anchored at its end.
INPUT_MAX_CHARS = 1_000  # longer than any lead column (254 at most); refused uncleaned
PHONE_MAX_CHARS = LEAD_TEXT_LIMITS["phone"]
EMPLOYEES_MAX_CHARS = 40  # "10,000,000 employees" and room for spaces
_EXTENSION = re.compile(r"(?:内線|ext\.?|x)\s*\d{1,6}$", re.IGNORECASE)
_PHONE_CHARS = re.compile(r"\+?[0-9()\-. ]+")
_EMPLOYEE_SUFFIX = re.compile(r"(?:名|人|people|employees)$", re.IGNORECASE)


def _suffix_cut(text: str, suffix: re.Pattern[str]) -> str:
    """`text` without a trailing match of `suffix` and the spaces around it."""
    text = text.rstrip()
    found = suffix.search(text)
    return text[: found.start()].rstrip() if found else text


# Only width variants are folded: full-width ASCII (ＡＢＣ１２３), half-width katakana (ｶﾌﾞ)
# and odd spaces. Full NFKC would also rewrite characters that are part of a company's
# written name: ㈱ → (株), ㍿ → 株式会社, ① → 1, ™ → TM.
_FOLDED_TAGS = ("<wide>", "<narrow>", "<noBreak>")


def _width_fold(char: str) -> str:
    tag = unicodedata.decomposition(char)
    return unicodedata.normalize("NFKC", char) if tag.startswith(_FOLDED_TAGS) else char


def text_clean(value: Any) -> str:
    """Full-width digits and letters become ASCII, half-width katakana full-width, trimmed, as
    people type them; other compatibility characters (㈱, ㍿) are kept as written."""
    if value is None:
        return ""
    text = str(value)
    if text.isascii():
        return text.strip()
    return unicodedata.normalize("NFC", "".join(map(_width_fold, text))).strip()


PHONE_DIGITS = (8, 15)  # E.164 allows 15; Japanese numbers have at least 8 (without 0)
EMPLOYEES_MAX = 10_000_000  # more than any company has: a typo, kept in traits instead


def phone_valid(value: str) -> bool:
    """Digits with + ( ) - . and spaces, 8 to 15 digits, an optional extension (内線 123)."""
    if len(value) > INPUT_MAX_CHARS:
        return False
    number = text_clean(value)
    if len(number) > PHONE_MAX_CHARS:
        return False
    number = _suffix_cut(number, _EXTENSION)
    digits = sum(c.isdigit() for c in number)
    return bool(_PHONE_CHARS.fullmatch(number)) and PHONE_DIGITS[0] <= digits <= PHONE_DIGITS[1]


def employees_parse(value: str) -> int:
    """ "1,200", "1200名", "１２００" → 1200; anything else raises ValueError."""
    text = text_clean(value) if len(value) <= INPUT_MAX_CHARS else ""
    if not text or len(text) > EMPLOYEES_MAX_CHARS:
        raise ValueError("employees must be a whole number such as 1200")
    text = _suffix_cut(text, _EMPLOYEE_SUFFIX).replace(",", "")
    if not text.isdigit() or int(text) > EMPLOYEES_MAX:
        raise ValueError("employees must be a whole number such as 1200")
    return int(text)


def lead_input_clean(data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Validate a person's lead fields; returns (clean values, errors by field)."""
    clean: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name in LEAD_INPUT_FIELDS:
        raw = data.get(name)
        if raw is not None and len(str(raw)) > INPUT_MAX_CHARS:
            # refused before any cleaning or pattern: the work per field stays bounded
            errors[name] = f"At most {MAX_LENGTHS[name] or EMPLOYEES_MAX_CHARS} characters."
            continue
        value = text_clean(raw)
        if value == "":
            continue
        if name == "email":
            if not email_valid(value):
                errors[name] = "Enter a valid email address."
                continue
            value = email_normalise(value)
        elif name == "phone" and not phone_valid(value):
            errors[name] = "Enter a phone number of 8 to 15 digits, such as 03-1234-5678."
            continue
        elif name == "employees":
            try:
                clean[name] = employees_parse(value)
            except ValueError as exc:
                errors[name] = str(exc)
            continue
        limit = MAX_LENGTHS[name]
        if limit and len(value) > limit:
            errors[name] = f"At most {limit} characters."
            continue
        clean[name] = value
    return clean, errors
