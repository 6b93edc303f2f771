"""The field cleaners of forms and CSV files (ingest/fields.py): what they accept, and that a
value past its bound is refused before it is cleaned or matched by any pattern (issue 10: the
old patterns took time quadratic in the input, 5.4 s for 16,000 characters). No time is
measured here: `make bench` measures a 1 MB field (tests/bench/cleaners.py)."""

import re

import pytest
from django.test import Client

from handoff.models import LeadView
from mqlapp.leads.ingest import csvfile, fields
from mqlapp.leads.ingest.fields import (
    INPUT_MAX_CHARS,
    employees_parse,
    lead_input_clean,
    phone_valid,
)
from mqlapp.leads.models import Consent, Event, Form

MEGABYTE = 1024 * 1024


class Tripwire:
    """Stands in for a compiled pattern: any use of it fails the test."""

    def __getattr__(self, name):
        raise AssertionError(f"a pattern was used ({name}) on input past its bound")


@pytest.fixture
def no_patterns(monkeypatch):
    """Every compiled pattern of the cleaners replaced by a tripwire."""
    for module in (fields, csvfile):
        for name, value in vars(module).copy().items():
            if isinstance(value, re.Pattern):
                monkeypatch.setattr(module, name, Tripwire())


# --- what they accept (the behaviour from before is kept) --------------------------------------


@pytest.mark.parametrize(
    "number",
    [
        "03-1234-5678",
        "+81 3 1234 5678",
        "(03) 1234-5678",
        "090.1234.5678",
        "０３－１２３４－５６７８",  # full width, as Japanese keyboards type it
        "03-1234-5678 内線 123",
        "03-1234-5678内線123",
        "03-1234-5678 ext. 12",
        "03-1234-5678 EXT 12",
        "03-1234-5678 x 99",
        "03-1234-5678x99",
        "  03-1234-5678   ",
        "+1 (555) 123-4567 x 123456",
    ],
)
def test_phone_numbers_people_type_are_accepted(number):
    assert phone_valid(number)


@pytest.mark.parametrize(
    "number",
    [
        "",
        "12-34",  # too few digits
        "1234567890123456",  # 16 digits
        "03-1234-5678 内線",  # an extension word without a number
        "03-1234-5678 x 1234567",  # an extension of 7 digits
        "03-1234-5678 ext 12 34",
        "03-1234-5678 内線 12 x 34",
        "call 03-1234-5678",
        "03/1234/5678",
        "0" + " " * 100 + "3-1234-5678",
        "1" + " " * 16_000 + "a",  # the shape that took seconds before
    ],
)
def test_phone_numbers_that_are_not_are_refused(number):
    assert not phone_valid(number)


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("1200", 1200),
        ("1,200", 1200),
        ("1,200名", 1200),
        ("1200 名", 1200),
        ("50人", 50),
        ("１２００", 1200),
        ("１，２００名", 1200),
        ("300 people", 300),
        ("300 Employees", 300),
        ("  7  ", 7),
        ("10,000,000", 10_000_000),
    ],
)
def test_employee_counts_people_type_are_read(text, number):
    assert employees_parse(text) == number


@pytest.mark.parametrize(
    "text",
    [
        "",
        "名",
        "many",
        "about 300",
        "300名 people",  # one suffix, not two
        "3.5",
        "-5",
        "10,000,001",  # a typo: kept in traits instead
        "1" + " " * 16_000 + "名a",
        "1" * 41,
    ],
)
def test_employee_counts_that_are_not_raise(text):
    with pytest.raises(ValueError, match="whole number"):
        employees_parse(text)


def test_a_person_s_fields_are_cleaned_as_before():
    clean, errors = lead_input_clean(
        {
            "email": " Taro.Yamada@Example.co.jp ",
            "last_name": "山田",
            "company": "ｻｸﾗ製作所",
            "phone": "03-1234-5678 内線 12",
            "employees": "1,200名",
            "country": "",
        }
    )
    assert errors == {}
    assert clean == {
        "email": "taro.yamada@example.co.jp",
        "last_name": "山田",
        "company": "サクラ製作所",
        "phone": "03-1234-5678 内線 12",
        "employees": 1200,
    }


def test_column_limits_still_apply_after_cleaning():
    clean, errors = lead_input_clean({"email": "a@example.com", "company": "x" * 201})
    assert errors == {"company": "At most 200 characters."}
    assert clean == {"email": "a@example.com"}


# --- bounds first: input past its bound never reaches a pattern ------------------------------


def test_a_megabyte_in_every_field_is_refused_without_any_pattern(no_patterns):
    huge = "1" + " " * MEGABYTE + "名"
    data = dict.fromkeys(fields.LEAD_INPUT_FIELDS, huge)

    clean, errors = lead_input_clean(data)

    assert clean == {}
    assert set(errors) == set(fields.LEAD_INPUT_FIELDS)
    assert errors["phone"] == "At most 50 characters."
    assert errors["company"] == "At most 200 characters."
    assert errors["employees"] == "At most 40 characters."


def test_a_value_just_past_the_bound_is_refused_uncleaned(no_patterns):
    _, errors = lead_input_clean({"phone": "0" * (INPUT_MAX_CHARS + 1)})
    assert errors == {"phone": "At most 50 characters."}


def test_the_cleaners_bound_their_own_input_before_any_pattern(no_patterns):
    # called directly too (identify traits, CSV cells): each refuses long input by itself
    assert not phone_valid("0" * MEGABYTE)
    assert not phone_valid("03-1234-5678" + " " * 100 + "内線 1")
    with pytest.raises(ValueError, match="whole number"):
        employees_parse("1" + " " * MEGABYTE + "名")
    with pytest.raises(ValueError, match="whole number"):
        employees_parse("1" * 41)
    with pytest.raises(csvfile.RowInvalid, match="timestamp"):
        csvfile.timestamp_parse("2025-04-01" + " " * MEGABYTE)


def test_a_csv_cell_past_the_csv_modules_limit_is_a_readable_file_error():
    text = "email,company\r\na@example.com," + "x" * 200_000 + "\r\n"
    with pytest.raises(csvfile.FileInvalid, match="Line 2 cannot be read as CSV"):
        csvfile.records(text)


# --- the public form: a megabyte field gets a clear answer ---------------------------------


@pytest.fixture
def form(db):
    return Form.objects.create(
        name="Whitepaper", slug="whitepaper", consent_text="", required_fields=["email"]
    )


def _megabyte_post(**extra):
    data = {
        "email": "taro@example.co.jp",
        "phone": "0" + " " * MEGABYTE + "x1",
        "employees": "1" + " " * MEGABYTE + "名",
    }
    return Client().post("/f/whitepaper/", data, REMOTE_ADDR="203.0.113.7", **extra)


@pytest.mark.django_db
def test_a_megabyte_field_on_the_public_form_answers_400_json(form):
    response = _megabyte_post(HTTP_ACCEPT="application/json")

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert body["fields"] == {
        "phone": "At most 50 characters.",
        "employees": "At most 40 characters.",
    }
    assert (LeadView.objects.count(), Event.objects.count(), Consent.objects.count()) == (0, 0, 0)


@pytest.mark.django_db
def test_a_megabyte_field_on_the_public_form_re_renders_the_form(form):
    response = _megabyte_post()

    assert response.status_code == 400
    page = response.content.decode()
    assert "At most 50 characters." in page
    assert 'value="taro@example.co.jp"' in page
    assert len(response.content) < 64 * 1024  # the megabyte is not echoed back
    assert LeadView.objects.count() == 0


@pytest.mark.django_db
def test_a_form_post_past_the_request_limit_answers_413(form, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = MEGABYTE
    response = Client().post(
        "/f/whitepaper/",
        {"email": "taro@example.co.jp", "company": "x" * (2 * MEGABYTE)},
        REMOTE_ADDR="203.0.113.7",
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 413
    assert response.json() == {
        "error": "The form is larger than the 1 MB limit.",
        "code": "too_large",
    }
    assert LeadView.objects.count() == 0
