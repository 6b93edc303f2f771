"""Segment messages into plain records, without a database: types, ids, time, email, UTM."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mqlapp.leads.ingest.messages import (
    Message,
    MessageInvalid,
    campaign_of,
    context_email,
    email_normalise,
    email_valid,
    message_parse,
)

RECEIVED = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def parse(raw: Any, **kwargs: Any) -> Message:
    return message_parse(raw, index=kwargs.pop("index", 0), received_at=RECEIVED, **kwargs)


def refused(raw: Any, **kwargs: Any) -> str:
    with pytest.raises(MessageInvalid) as caught:
        parse(raw, **kwargs)
    return str(caught.value)


# --- types -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "kind", "name"),
    [
        ({"type": "identify", "userId": "u1"}, "identify", ""),
        (
            {"type": "track", "userId": "u1", "event": "  Demo Requested "},
            "track",
            "Demo Requested",
        ),
        ({"type": "page", "anonymousId": "a1", "name": "Pricing"}, "page", "Pricing"),
        ({"type": "page", "anonymousId": "a1"}, "page", ""),
        ({"type": "screen", "anonymousId": "a1", "name": "Home"}, "screen", "Home"),
        ({"type": "group", "userId": "u1", "groupId": "g1"}, "group", ""),
        ({"type": "alias", "previousId": "a1", "userId": "u1"}, "alias", ""),
    ],
)
def test_every_type_parses_with_its_name(raw, kind, name):
    message = parse(raw)
    assert (message.type, message.name) == (kind, name)


def test_the_type_is_case_insensitive():
    assert parse({"type": "TRACK", "userId": "u", "event": "X"}).type == "track"
    assert parse({"type": "Identify", "userId": "u"}).type == "identify"


def test_the_endpoint_type_wins_over_the_body():
    # POST /v1/track: the path says what it is, whatever the body's "type" says
    message = parse({"type": "identify", "userId": "u", "event": "Opened"}, default_type="track")
    assert (message.type, message.name) == ("track", "Opened")
    assert parse({"userId": "u"}, default_type="identify").type == "identify"


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (
            {"type": "click", "userId": "u"},
            "unknown type 'click'; expected one of identify, track, page, screen, group, alias",
        ),
        (
            {"userId": "u"},
            "unknown type None; expected one of identify, track, page, screen, group, alias",
        ),
        (["track"], "message must be a JSON object"),
        ({"type": "track", "userId": "u"}, "track needs an event name"),
        ({"type": "track", "userId": "u", "event": "   "}, "track needs an event name"),
        ({"type": "track", "userId": "u", "event": 5}, "track needs an event name"),
        ({"type": "group", "userId": "u"}, "group needs a groupId"),
    ],
)
def test_invalid_messages_are_refused_with_a_readable_reason(raw, error):
    assert refused(raw) == error


# --- ids -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        ({"type": "track", "event": "X"}, "message needs a userId or an anonymousId"),
        (
            {"type": "identify", "userId": "  ", "anonymousId": ""},
            "message needs a userId or an anonymousId",
        ),
        ({"type": "alias", "userId": "u1"}, "alias needs previousId and userId"),
        ({"type": "alias", "previousId": "a1"}, "alias needs previousId and userId"),
        (
            {"type": "alias", "previousId": "a1", "anonymousId": "a2"},
            "alias needs previousId and userId",
        ),
        ({"type": "identify", "userId": True}, "userId must be a string"),
        ({"type": "identify", "anonymousId": {"id": 1}}, "anonymousId must be a string"),
        ({"type": "identify", "userId": ["u"]}, "userId must be a string"),
    ],
)
def test_missing_or_malformed_ids_are_refused(raw, error):
    assert refused(raw) == error


def test_ids_are_stripped_and_numbers_become_text():
    message = parse(
        {
            "type": "alias",
            "userId": 42,
            "anonymousId": " a-1 ",
            "previousId": 7.5,
            "messageId": " m-1 ",
        }
    )
    assert (message.user_id, message.anonymous_id, message.previous_id, message.message_id) == (
        "42",
        "a-1",
        "7.5",
        "m-1",
    )


def test_an_id_may_be_200_characters_but_not_201():
    assert parse({"type": "identify", "userId": "u" * 200}).user_id == "u" * 200
    assert refused({"type": "identify", "userId": "u" * 201}) == (
        "userId is longer than 200 characters"
    )
    assert refused({"type": "identify", "userId": "u", "messageId": "m" * 201}) == (
        "messageId is longer than 200 characters"
    )


def test_a_message_without_a_message_id_gets_a_new_uuid():
    first = parse({"type": "identify", "userId": "u"})
    second = parse({"type": "identify", "userId": "u", "messageId": ""})
    assert uuid.UUID(first.message_id).version == 4
    assert uuid.UUID(second.message_id).version == 4
    assert first.message_id != second.message_id
    assert parse({"type": "identify", "userId": "u", "messageId": "abc"}).message_id == "abc"


def test_long_names_are_cut_to_200_characters():
    assert parse({"type": "track", "userId": "u", "event": "E" * 300}).name == "E" * 200
    assert parse({"type": "page", "userId": "u", "name": " " + "P" * 250}).name == "P" * 200


def test_the_index_is_kept():
    assert parse({"type": "identify", "userId": "u"}, index=17).index == 17


# --- objects ---------------------------------------------------------------------------------


def test_objects_default_to_empty_and_must_be_objects():
    message = parse({"type": "identify", "userId": "u", "traits": None})
    assert (message.traits, message.context, message.properties) == ({}, {}, {})
    assert refused({"type": "track", "userId": "u", "event": "X", "properties": []}) == (
        "properties must be an object"
    )
    assert refused({"type": "identify", "userId": "u", "traits": "x"}) == "traits must be an object"
    assert refused({"type": "identify", "userId": "u", "context": 1}) == "context must be an object"


# --- time ------------------------------------------------------------------------------------


def test_clock_skew_is_corrected_by_received_at_minus_sent_at():
    # the client's clock is 10 s slow: it says it sent at 11:59:50 what arrived at 12:00:00
    message = parse(
        {
            "type": "track",
            "userId": "u",
            "event": "X",
            "timestamp": "2025-06-01T11:59:40Z",
            "sentAt": "2025-06-01T11:59:50Z",
        }
    )
    assert message.timestamp == datetime(2025, 6, 1, 11, 59, 50, tzinfo=UTC)
    assert message.sent_at == datetime(2025, 6, 1, 11, 59, 50, tzinfo=UTC)
    assert message.received_at == RECEIVED


def test_a_fast_client_clock_moves_the_timestamp_back_across_time_zones():
    # timestamp 12:00Z and sentAt 12:01Z, written in +09:00; received at 12:00:30Z: -30 s
    message = message_parse(
        {
            "type": "track",
            "userId": "u",
            "event": "X",
            "timestamp": "2025-06-01T21:00:00+09:00",
            "sentAt": "2025-06-01T21:01:00.000+09:00",
        },
        index=0,
        received_at=RECEIVED + timedelta(seconds=30),
    )
    assert message.timestamp == datetime(2025, 6, 1, 11, 59, 30, tzinfo=UTC)


def test_without_sent_at_the_timestamp_is_taken_as_is():
    message = parse(
        {"type": "track", "userId": "u", "event": "X", "timestamp": "2025-05-30T08:15:00.250Z"}
    )
    assert message.timestamp == datetime(2025, 5, 30, 8, 15, 0, 250000, tzinfo=UTC)
    assert message.sent_at is None


def test_without_a_timestamp_the_message_happened_when_it_was_received():
    message = parse(
        {"type": "track", "userId": "u", "event": "X", "sentAt": "2025-06-01T11:00:00Z"}
    )
    assert message.timestamp == RECEIVED
    assert message.sent_at == datetime(2025, 6, 1, 11, 0, tzinfo=UTC)


def test_original_timestamp_stands_in_for_a_missing_timestamp():
    message = parse(
        {
            "type": "track",
            "userId": "u",
            "event": "X",
            "timestamp": "",
            "originalTimestamp": "2025-06-01T09:00:00Z",
            "sentAt": "2025-06-01T11:00:00Z",
        }
    )
    assert message.timestamp == datetime(2025, 6, 1, 10, 0, tzinfo=UTC)


def test_timestamp_wins_over_original_timestamp():
    message = parse(
        {
            "type": "track",
            "userId": "u",
            "event": "X",
            "timestamp": "2025-06-01T09:00:00Z",
            "originalTimestamp": "2025-01-01T00:00:00Z",
        }
    )
    assert message.timestamp == datetime(2025, 6, 1, 9, 0, tzinfo=UTC)


def test_a_time_without_a_zone_is_utc():
    message = parse(
        {"type": "track", "userId": "u", "event": "X", "timestamp": "2025-06-01T10:00:00"}
    )
    assert message.timestamp == datetime(2025, 6, 1, 10, 0, tzinfo=UTC)


def test_the_batch_sent_at_applies_when_the_message_has_none():
    batch_sent_at = datetime(2025, 6, 1, 11, 0, tzinfo=UTC)
    raw = {"type": "track", "userId": "u", "event": "X", "timestamp": "2025-06-01T10:30:00Z"}
    message = parse(raw, batch_sent_at=batch_sent_at)
    assert (message.sent_at, message.timestamp) == (
        batch_sent_at,
        datetime(2025, 6, 1, 11, 30, tzinfo=UTC),
    )
    # the message's own sentAt wins over the batch's
    own = parse({**raw, "sentAt": "2025-06-01T11:45:00Z"}, batch_sent_at=batch_sent_at)
    assert (own.sent_at, own.timestamp) == (
        datetime(2025, 6, 1, 11, 45, tzinfo=UTC),
        datetime(2025, 6, 1, 10, 45, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("timestamp", "yesterday", "timestamp is not a valid ISO 8601 time: 'yesterday'"),
        (
            "timestamp",
            "2025-02-30T00:00:00Z",
            "timestamp is not a valid ISO 8601 time: '2025-02-30T00:00:00Z'",
        ),
        ("timestamp", 1717243200, "timestamp must be an ISO 8601 string"),
        ("sentAt", "soon", "sentAt is not a valid ISO 8601 time: 'soon'"),
        ("originalTimestamp", "never", "originalTimestamp is not a valid ISO 8601 time: 'never'"),
    ],
)
def test_unreadable_times_are_refused(field, value, error):
    assert refused({"type": "track", "userId": "u", "event": "X", field: value}) == error


# --- email -----------------------------------------------------------------------------------


def test_an_identify_email_is_validated_but_kept_as_sent():
    message = parse(
        {"type": "identify", "userId": "u", "traits": {"email": " Taro@Example.CO.JP "}}
    )
    assert message.traits == {"email": " Taro@Example.CO.JP "}
    assert email_normalise(message.traits["email"]) == "taro@example.co.jp"


@pytest.mark.parametrize("email", ["not-an-email", "a@b", "a b@example.com", "a@@example.com", 42])
def test_an_identify_with_an_invalid_email_is_refused(email):
    assert refused({"type": "identify", "userId": "u", "traits": {"email": email}}) == (
        f"traits.email is not a valid email address: {str(email)!r}"
    )


def test_an_identify_without_an_email_is_fine():
    assert parse({"type": "identify", "userId": "u", "traits": {"email": ""}}).traits == {
        "email": ""
    }
    assert parse({"type": "identify", "userId": "u", "traits": {"email": None}}).traits == {
        "email": None
    }


def test_identify_traits_sent_in_context_traits_are_merged_under_the_message_traits():
    message = parse(
        {
            "type": "identify",
            "userId": "u",
            "traits": {"company": "ACME"},
            "context": {"traits": {"email": "a@example.com", "company": "Old"}},
        }
    )
    assert message.traits == {"email": "a@example.com", "company": "ACME"}
    assert (
        refused({"type": "identify", "userId": "u", "context": {"traits": {"email": "nope"}}})
        == "traits.email is not a valid email address: 'nope'"
    )


def test_a_track_keeps_its_context_traits_out_of_its_traits():
    message = parse(
        {"type": "track", "userId": "u", "event": "X", "context": {"traits": {"email": "bad"}}}
    )
    assert message.traits == {}


def test_context_email_names_the_lead_normalised_when_valid():
    def of(traits: Any) -> str:
        return context_email(
            parse({"type": "track", "userId": "u", "event": "X", "context": {"traits": traits}})
        )

    assert of({"email": "  Hanako@Example.com "}) == "hanako@example.com"
    assert of({"email": "no-at-sign"}) == ""
    assert of({"email": 5}) == ""
    assert of({}) == ""
    assert of("a@example.com") == ""


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("a@example.com", True),
        (" a@example.com ", True),
        ("a@example", False),
        ("@example.com", False),
        ("a@b@example.com", False),
        ("a@exa mple.com", False),
        ("a" * 242 + "@example.com", True),  # 254 characters
        ("a" * 243 + "@example.com", False),
    ],
)
def test_email_valid(value, valid):
    assert email_valid(value) is valid


# --- campaign (UTM) --------------------------------------------------------------------------


def test_campaign_from_context_campaign_in_either_spelling():
    campaign = {
        "name": "spring",
        "utm_source": "google",
        "medium": "cpc",
        "utm_term": 7,
        "content": "",
        "other": "x",
    }
    message = parse({"type": "page", "anonymousId": "a", "context": {"campaign": campaign}})
    assert message.campaign == {"name": "spring", "source": "google", "medium": "cpc", "term": "7"}


def test_campaign_from_the_page_url_query():
    url = "https://www.example.co.jp/lp?utm_source=news&utm_medium=email&utm_campaign=launch&x=1"
    message = parse({"type": "page", "anonymousId": "a", "properties": {"url": url}})
    assert message.campaign == {"source": "news", "medium": "email", "name": "launch"}


def test_campaign_from_context_page_url_or_search():
    page_url = {"page": {"url": "https://example.com/?utm_source=ads&utm_content=banner"}}
    assert campaign_of(page_url, {}) == {"source": "ads", "content": "banner"}
    search = {"page": {"search": "?utm_term=crm&utm_campaign=q2"}}
    assert campaign_of(search, {}) == {"term": "crm", "name": "q2"}


def test_context_campaign_wins_over_the_url_and_properties_over_the_page():
    url = "https://example.com/?utm_source=url"
    assert campaign_of({"campaign": {"source": "ctx"}}, {"url": url}) == {"source": "ctx"}
    assert campaign_of({"page": {"url": "https://example.com/?utm_source=page"}}, {"url": url}) == {
        "source": "url"
    }
    # an empty context.campaign does not hide the URL's parameters
    assert campaign_of({"campaign": {"name": ""}}, {"url": url}) == {"source": "url"}


def test_no_campaign_is_an_empty_dict_and_values_are_cut_to_200():
    assert campaign_of({}, {"url": "https://example.com/?q=1"}) == {}
    long = "x" * 300
    assert campaign_of({"campaign": {"name": long}}, {}) == {"name": "x" * 200}
    assert campaign_of({}, {"url": f"https://e.com/?utm_source={long}"}) == {"source": "x" * 200}
