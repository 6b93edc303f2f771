"""Large statement parameters, passed to psycopg2 without its per-value work.

psycopg2 quotes every parameter in Python before it sends the statement: a list of 3,300 lead
ids costs it ~3 ms (each integer adapted on its own), and a 5 MB JSON document ~13 ms (the
text encoded, then escaped character by character). The hot statements of ingestion and
scoring pass thousands of ids and megabytes of JSON per transaction, so those two kinds go
through here: ids as one array literal (`id_array`), JSON as orjson's bytes quoted in one
pass (`json_param`), lists of strings as one JSON document (`text_array`; docs/benchmarks.md,
tenth session). Each can write nothing but what it names: integers, or one string literal.
"""

import json
from collections.abc import Iterable
from typing import Any

import orjson

# int.__repr__ refuses anything but an int (a str would raise TypeError, never reach SQL).
_INT = int.__repr__


def id_array(ids: Iterable[int]) -> str:
    """Integers as the text of a PostgreSQL array, for a `%s::bigint[]` parameter."""
    return "{" + ",".join(map(_INT, ids)) + "}"


class JsonText:
    """UTF-8 JSON (as orjson writes it: no raw control character, so no NUL) as one SQL
    string literal, psycopg2's adapter protocol. An escape-string literal (E'…'), so it reads
    the same whatever `standard_conforming_strings` says: quotes doubled, backslashes doubled
    (`bytes.replace` returns the text itself where there is nothing to replace)."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __conform__(self, protocol: Any) -> "JsonText":
        return self

    def getquoted(self) -> bytes:
        text = self.data.replace(b"\\", b"\\\\").replace(b"'", b"''")
        return b"E'" + text + b"'"


def json_param(data: bytes) -> Any:
    """`data` (UTF-8 JSON from orjson) as a statement's parameter (a JsonText; typed Any, as
    the database API's stubs know only the driver's own types)."""
    return JsonText(data)


# A text[] from one JSON document: `value = ANY(TEXT_ARRAY)` with text_array(values).
TEXT_ARRAY = "ARRAY(SELECT jsonb_array_elements_text(%s::jsonb))"


def text_array(values: Iterable[str]) -> Any:
    """Strings for a TEXT_ARRAY parameter, as one JSON document (one orjson call; psycopg2
    quoted each string of a list on its own, ~1.5 µs apiece). Text orjson refuses (a lone
    surrogate, which no column can hold) goes as the standard library writes it, for
    PostgreSQL to refuse as it would anyway."""
    listed = list(values)
    try:
        return json_param(orjson.dumps(listed))
    except TypeError:
        return json.dumps(listed, ensure_ascii=False)
