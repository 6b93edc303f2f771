"""Large parameters passed as literals (mqlapp.leads.sqlparams) reach PostgreSQL exactly as the
values they stand for, whatever the text holds and whatever `standard_conforming_strings` says;
anything but integers is refused before it could become SQL."""

import orjson
import pytest
from django.db import connection, transaction
from hypothesis import given, settings
from hypothesis import strategies as st

from mqlapp.leads.event_store import rows_json_bytes, rows_json_param
from mqlapp.leads.sqlparams import TEXT_ARRAY, JsonText, id_array, text_array

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's literals"),
]

AWKWARD = [
    "it's",
    "''",
    "\\",
    "\\'",
    "a\\\\'b",
    'say "hi"',
    "E'x'",
    "'); DROP TABLE leads_lead; --",
    "改行\nタブ\t",
    "😀 \u2028",
    "%s %(x)s",
]


def _through_postgresql(param: object, cast: str) -> object:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT %s::{cast}", [param])
        value = cursor.fetchone()[0]
    # Django's connection hands jsonb over as its text
    return orjson.loads(value) if cast == "jsonb" else value


@pytest.mark.parametrize("conforming", ["on", "off"])
def test_a_json_document_arrives_as_written(conforming):
    document = [["id-1", {"title": text, text: [text, 1, None]}] for text in AWKWARD]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL standard_conforming_strings TO {conforming}")
        arrived = _through_postgresql(JsonText(orjson.dumps(document)), "jsonb")

    assert arrived == orjson.loads(orjson.dumps(document))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)))
def test_any_text_arrives_as_written(texts):
    texts = [t.replace("\x00", "") for t in texts]  # jsonb keeps no NUL (refused as before)

    assert _through_postgresql(rows_json_param([texts]), "jsonb") == [texts]


def test_the_parameter_is_the_document_rows_json_bytes_writes():
    rows = [("a'b", 1, {"k": "\\"})]

    assert rows_json_param(rows).data == rows_json_bytes(rows)


def test_ids_arrive_as_an_array():
    assert _through_postgresql(id_array([3, 1, 2**62]), "bigint[]") == [3, 1, 2**62]
    assert _through_postgresql(id_array([]), "bigint[]") == []


@pytest.mark.parametrize("bad", ["1", "1}'; SELECT 1; --", 1.5, None])
def test_anything_but_an_integer_is_refused_before_it_becomes_sql(bad):
    with pytest.raises(TypeError):
        id_array([1, bad])


@pytest.mark.parametrize("conforming", ["on", "off"])
def test_strings_arrive_as_a_text_array(conforming):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL standard_conforming_strings TO {conforming}")
        cursor.execute(f"SELECT {TEXT_ARRAY}", [text_array(AWKWARD)])
        arrived = cursor.fetchone()[0]

    assert arrived == AWKWARD
