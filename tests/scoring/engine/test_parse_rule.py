"""parse_rule: the SPEC's examples parse; each invalid rule names the field at fault."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from scoring.engine import Condition, Rule, RuleInvalid, parse_rule

SPEC_BEHAVIOR: dict[str, Any] = {
    "name": "Pricing whitepaper",
    "kind": "behavior",
    "event": "Document Downloaded",
    "conditions": [{"field": "properties.category", "op": "eq", "value": "pricing"}],
    "points": 20,
    "max_times": 3,
    "window_days": None,
    "half_life_days": 30,
    "expire_after_days": None,
    "active": True,
}
SPEC_INACTIVITY: dict[str, Any] = {
    "name": "Went quiet",
    "kind": "inactivity",
    "after_event": "Document Downloaded",
    "watch_events": ["page", "Email Opened"],
    "inactive_days": 14,
    "points": -10,
}
FIT: dict[str, Any] = {
    "name": "Japanese enterprise",
    "kind": "fit",
    "conditions": [
        {"field": "country", "op": "in", "value": ["JP"]},
        {"field": "employees", "op": "gte", "value": 1000},
    ],
    "points": 15,
}


def errors_of(data: dict[str, Any]) -> dict[str, list[str]]:
    with pytest.raises(RuleInvalid) as caught:
        parse_rule(data)
    return caught.value.errors


def test_spec_behavior_example_parses():
    assert parse_rule(SPEC_BEHAVIOR, rule_id=7) == Rule(
        id=7,
        name="Pricing whitepaper",
        kind="behavior",
        points=Decimal(20),
        event="Document Downloaded",
        conditions=(Condition("properties.category", "eq", "pricing"),),
        max_times=3,
        half_life_days=Decimal(30),
    )


def test_spec_inactivity_example_parses():
    assert parse_rule(SPEC_INACTIVITY, rule_id=3) == Rule(
        id=3,
        name="Went quiet",
        kind="inactivity",
        points=Decimal(-10),
        after_event="Document Downloaded",
        watch_events=("page", "Email Opened"),
        inactive_days=Decimal(14),
    )


def test_fit_example_parses_with_list_values_frozen():
    rule = parse_rule(FIT)

    assert rule.conditions == (
        Condition("country", "in", ("JP",)),
        Condition("employees", "gte", 1000),
    )
    assert hash(rule)  # frozen all the way down


def test_numbers_may_be_numeric_strings_or_floats():
    rule = parse_rule({**SPEC_BEHAVIOR, "points": "12.5", "max_times": "2", "half_life_days": 7.5})

    assert (rule.points, rule.max_times, rule.half_life_days) == (
        Decimal("12.5"),
        2,
        Decimal("7.5"),
    )


def test_window_and_expiry_parse():
    rule = parse_rule(
        {
            **SPEC_BEHAVIOR,
            "max_times": 1,
            "window_days": 7,
            "half_life_days": None,
            "expire_after_days": 90,
            "active": False,
        }
    )

    assert (rule.window_days, rule.expire_after_days, rule.active) == (
        Decimal(7),
        Decimal(90),
        False,
    )


def test_unknown_op_message_lists_the_ops():
    bad = {**SPEC_BEHAVIOR, "conditions": [{"field": "properties.x", "op": "regex", "value": "."}]}

    assert errors_of(bad) == {
        "conditions": [
            "condition 1: unknown op 'regex'; use one of "
            "eq, ne, in, contains, startswith, endswith, gt, gte, lt, lte, exists"
        ]
    }


def test_every_problem_is_reported_at_once():
    errors = errors_of({"kind": "behavior", "max_times": 0})

    assert sorted(errors) == ["event", "max_times", "name", "points"]


def test_rule_invalid_is_a_value_error_with_a_readable_message():
    with pytest.raises(ValueError, match="name: is required"):
        parse_rule({**SPEC_BEHAVIOR, "name": "  "})


def test_non_object_is_refused():
    with pytest.raises(RuleInvalid) as caught:
        parse_rule(["not", "a", "rule"])  # type: ignore[arg-type]

    assert list(caught.value.errors) == ["non_field_errors"]


def _cond(field: str, op: str, value: Any = None) -> dict[str, Any]:
    return {"field": field, "op": op, "value": value}


INVALID: list[tuple[str, dict[str, Any], str, str]] = [
    ("empty name", {**SPEC_BEHAVIOR, "name": ""}, "name", "is required"),
    ("name not text", {**SPEC_BEHAVIOR, "name": 5}, "name", "must be text"),
    ("unknown kind", {**SPEC_BEHAVIOR, "kind": "score"}, "kind", "must be one of"),
    ("points not numeric", {**SPEC_BEHAVIOR, "points": "lots"}, "points", "must be a number"),
    ("points bool", {**SPEC_BEHAVIOR, "points": True}, "points", "must be a number"),
    ("points missing", {**SPEC_BEHAVIOR, "points": None}, "points", "is required"),
    ("behavior without event", {**SPEC_BEHAVIOR, "event": None}, "event", "is required"),
    ("behavior with after_event", {**SPEC_BEHAVIOR, "after_event": "X"}, "after_event", "not used"),
    ("fit without conditions", {**FIT, "conditions": []}, "conditions", "at least one"),
    ("fit with event", {**FIT, "event": "X"}, "event", "not used by fit"),
    ("fit with after_event", {**FIT, "after_event": "X"}, "after_event", "not used by fit"),
    ("fit with inactive_days", {**FIT, "inactive_days": 3}, "inactive_days", "not used by fit"),
    ("fit with half-life", {**FIT, "half_life_days": 3}, "half_life_days", "not used by fit"),
    (
        "inactivity without days",
        {**SPEC_INACTIVITY, "inactive_days": None},
        "inactive_days",
        "is required",
    ),
    (
        "inactivity zero days",
        {**SPEC_INACTIVITY, "inactive_days": 0},
        "inactive_days",
        "greater than 0",
    ),
    ("inactivity with max_times", {**SPEC_INACTIVITY, "max_times": 2}, "max_times", "not used"),
    (
        "inactivity with fading",
        {**SPEC_INACTIVITY, "half_life_days": 5},
        "half_life_days",
        "not used",
    ),
    (
        "inactivity with expiry",
        {**SPEC_INACTIVITY, "expire_after_days": 5},
        "expire_after_days",
        "not used",
    ),
    ("max_times zero", {**SPEC_BEHAVIOR, "max_times": 0}, "max_times", "greater than 0"),
    ("max_times fraction", {**SPEC_BEHAVIOR, "max_times": 1.5}, "max_times", "whole number"),
    ("max_times bool", {**SPEC_BEHAVIOR, "max_times": True}, "max_times", "must be a number"),
    (
        "window without max_times",
        {**SPEC_BEHAVIOR, "max_times": None, "window_days": 7},
        "window_days",
        "only works together with max_times",
    ),
    ("negative window", {**SPEC_BEHAVIOR, "window_days": -1}, "window_days", "greater than 0"),
    ("zero half-life", {**SPEC_BEHAVIOR, "half_life_days": 0}, "half_life_days", "greater than 0"),
    ("both fadings", {**SPEC_BEHAVIOR, "expire_after_days": 30}, "expire_after_days", "not both"),
    ("huge days", {**SPEC_BEHAVIOR, "half_life_days": 10**9}, "half_life_days", "at most"),
    ("conditions not a list", {**SPEC_BEHAVIOR, "conditions": "x"}, "conditions", "must be a list"),
    (
        "condition not an object",
        {**SPEC_BEHAVIOR, "conditions": ["x"]},
        "conditions",
        "condition 1: must be an object",
    ),
    (
        "condition without field",
        {**SPEC_BEHAVIOR, "conditions": [{"op": "exists"}]},
        "conditions",
        "condition 1: field is required",
    ),
    (
        "event field without prefix",
        {**SPEC_BEHAVIOR, "conditions": [_cond("category", "eq", "x")]},
        "conditions",
        "condition 1: field 'category' is not an event field",
    ),
    (
        "event field with empty path",
        {**SPEC_BEHAVIOR, "conditions": [_cond("properties.", "exists")]},
        "conditions",
        "is not an event field",
    ),
    (
        "fit field on an event path",
        {**FIT, "conditions": [_cond("properties.x", "eq", "y")]},
        "conditions",
        "condition 1: field 'properties.x' is not a lead field",
    ),
    (
        "in without a list",
        {**FIT, "conditions": [_cond("country", "in", "JP")]},
        "conditions",
        "in needs a non-empty list",
    ),
    (
        "gt without a number",
        {**FIT, "conditions": [_cond("employees", "gt", "many")]},
        "conditions",
        "gt needs a number value",
    ),
    (
        "exists with text",
        {**FIT, "conditions": [_cond("company", "exists", "yes")]},
        "conditions",
        "exists takes true, false or no value",
    ),
    (
        "eq without a value",
        {**FIT, "conditions": [_cond("company", "eq")]},
        "conditions",
        "use exists",
    ),
    (
        "startswith a number",
        {**FIT, "conditions": [_cond("title", "startswith", 5)]},
        "conditions",
        "startswith needs a non-empty text value",
    ),
    (
        "watch_events as text",
        {**SPEC_INACTIVITY, "watch_events": "page"},
        "watch_events",
        "must be a list",
    ),
    (
        "watch_events with a blank",
        {**SPEC_INACTIVITY, "watch_events": ["page", " "]},
        "watch_events",
        "item 2 must be a non-empty event name",
    ),
    ("active not bool", {**SPEC_BEHAVIOR, "active": "yes"}, "active", "true or false"),
]


@pytest.mark.parametrize(
    ("data", "field", "fragment"),
    [case[1:] for case in INVALID],
    ids=[case[0] for case in INVALID],
)
def test_invalid_rule_names_the_field(data: dict[str, Any], field: str, fragment: str):
    errors = errors_of(data)

    assert field in errors, errors
    assert any(fragment in message for message in errors[field]), errors[field]
