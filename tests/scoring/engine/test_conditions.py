"""Every condition op, through fit rules on traits and behavior rules on event fields."""

from __future__ import annotations

from typing import Any

from scoring.engine import EventFact, event_matches_name
from tests.scoring.engine.builders import NOW, ago, cond, d, lead, page, rule, score_of, track

_MISSING = object()


def holds(actual: Any, op: str, value: Any = None) -> bool:
    """Whether `traits.x <op> value` matches a lead whose trait x is `actual`."""
    traits = {} if actual is _MISSING else {"x": actual}
    result = score_of(lead(traits=traits), rule("fit", conditions=[cond("traits.x", op, value)]))
    return result.fit == d("10.00")


def test_eq_ignores_case_and_compares_numbers_numerically():
    assert holds("Pricing", "eq", "pRICING")
    assert holds("Straße", "eq", "STRASSE")  # casefold, not lower
    assert holds("250", "eq", 250)
    assert holds(250, "eq", "250.0")
    assert holds(2.5, "eq", "2.50")
    assert not holds("abc", "eq", "abd")
    assert not holds(True, "eq", 1)  # bools are not numbers
    assert holds(True, "eq", True)
    assert not holds(_MISSING, "eq", "x")


def test_ne_is_true_for_missing_and_false_for_case_variants():
    assert not holds("a", "ne", "A")
    assert holds("a", "ne", "b")
    assert not holds("100", "ne", 100)
    assert holds(_MISSING, "ne", "x")
    assert holds(None, "ne", "x")  # None is missing


def test_in_matches_any_element_ignoring_case_and_numerically():
    assert holds("jp", "in", ["US", "JP"])
    assert holds("250", "in", [100, 250])
    assert holds(250, "in", ("100", "250"))
    assert not holds("DE", "in", ["US", "JP"])
    assert not holds(_MISSING, "in", ["US"])


def test_contains_on_strings_and_lists():
    assert holds("Pricing Guide 2025", "contains", "GUIDE")
    assert holds("Room 5", "contains", 5)
    assert holds(["alpha", "Beta"], "contains", "beta")
    assert holds([100, 250], "contains", "250")
    assert not holds(["alpha"], "contains", "alp")  # list: element equality, not substring
    assert not holds(42, "contains", "4")
    assert not holds(_MISSING, "contains", "x")


def test_startswith_and_endswith_on_strings_only():
    assert holds("Head of Marketing", "startswith", "head")
    assert holds("Head of Marketing", "endswith", "MARKETING")
    assert not holds("Head of Marketing", "startswith", "marketing")
    assert not holds(123, "startswith", "1")
    assert not holds(_MISSING, "endswith", "x")


def test_ordering_ops_read_both_sides_as_numbers():
    assert holds("250", "gt", 100)
    assert not holds(100, "gt", 100)
    assert holds(100, "gte", "100")
    assert holds(99.5, "lt", "100")
    assert not holds(100, "lt", 100)
    assert holds(100, "lte", 100)
    assert not holds("abc", "gt", 1)
    assert not holds(True, "gt", 0)  # bools are not numbers
    assert not holds(_MISSING, "lt", 5)
    assert not holds(_MISSING, "gte", 0)


def test_exists_and_not_exists():
    assert holds("x", "exists")
    assert holds("x", "exists", True)
    assert holds(0, "exists")
    assert not holds("", "exists")
    assert not holds(None, "exists")
    assert not holds(_MISSING, "exists")
    assert holds(_MISSING, "exists", False)
    assert holds("", "exists", False)
    assert not holds("x", "exists", False)


def test_nested_trait_paths_walk_dicts():
    facts = lead(traits={"plan": {"tier": "Enterprise"}, "flat": "x"})
    tier = rule("fit", id=1, conditions=[cond("traits.plan.tier", "eq", "enterprise")])
    through_string = rule("fit", id=2, conditions=[cond("traits.flat.deeper", "exists")])

    result = score_of(facts, tier, through_string)

    assert [c.rule_id for c in result.breakdown] == [1]


def test_lead_fields_and_email_domain():
    facts = lead(email="Jane@Example.CO.JP", country="JP", employees=1200, title="CMO")
    rules = [
        rule("fit", id=1, conditions=[cond("email_domain", "eq", "example.co.jp")]),
        rule("fit", id=2, conditions=[cond("email_domain", "endswith", ".JP")]),
        rule("fit", id=3, conditions=[cond("employees", "gte", 1000), cond("country", "eq", "jp")]),
        rule("fit", id=4, conditions=[cond("employees", "gte", 1000), cond("title", "eq", "CEO")]),
        rule("fit", id=5, conditions=[cond("industry", "exists")]),  # industry is ""
    ]

    result = score_of(facts, *rules)

    assert [c.rule_id for c in result.breakdown] == [1, 2, 3]


def test_missing_lead_values_are_missing():
    facts = lead(email="no-at-sign", employees=None)
    rules = [
        rule("fit", id=1, conditions=[cond("email_domain", "exists")]),
        rule("fit", id=2, conditions=[cond("employees", "gte", 0)]),
        rule("fit", id=3, conditions=[cond("employees", "ne", 10)]),
        rule("fit", id=4, conditions=[cond("traits.plan", "exists", False)]),
    ]

    result = score_of(facts, *rules)

    assert [c.rule_id for c in result.breakdown] == [3, 4]


def test_event_conditions_on_properties_and_context():
    events = (
        track("Email Opened", ago(1), context={"campaign": {"source": "Newsletter"}}),
        track("Email Opened", ago(2), context={"campaign": {"source": "ads"}}),
        track("Email Opened", ago(3)),
        page(ago(1), path="/pricing/enterprise"),
        page(ago(2), path="/blog"),
    )
    newsletter = rule(
        id=1, event="Email Opened", conditions=[cond("context.campaign.source", "eq", "newsletter")]
    )
    pricing_pages = rule(
        id=2, event="page", points=3, conditions=[cond("properties.path", "startswith", "/PRICING")]
    )

    result = score_of(lead(*events), newsletter, pricing_pages)

    assert [(c.rule_id, c.count, c.points) for c in result.breakdown] == [
        (1, 1, d("10.00")),
        (2, 1, d("3.00")),
    ]


def test_event_matches_name_by_type_for_page_and_screen_else_track_name():
    def event(type_: str, name: str = "") -> EventFact:
        return EventFact(id="x", type=type_, name=name, timestamp=NOW)

    assert event_matches_name(event("page"), "page")
    assert event_matches_name(event("page", "Pricing"), "Page ")
    assert event_matches_name(event("screen"), "screen")
    assert not event_matches_name(event("screen"), "page")
    assert event_matches_name(event("track", " document downloaded "), "Document Downloaded")
    assert not event_matches_name(event("page", "Document Downloaded"), "Document Downloaded")
    assert not event_matches_name(event("track", "page"), "page")
    assert not event_matches_name(event("identify"), "identify")
    assert not event_matches_name(event("track", "Document Downloaded"), "Document")
