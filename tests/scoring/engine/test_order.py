"""The total order of events: copies of one message id, ties in time, any arrival order.

Which copy of a message id counts is decided by the copies alone (docs/scoring.md, "Order,
ties and copies"): the earliest timestamp, then the smallest (type, name, properties,
context). Each test scores both arrival orders with `evaluate` and with `Scorer`.
"""

from __future__ import annotations

from datetime import timedelta, timezone
from decimal import Decimal

import pytest

from scoring.engine import (
    Contribution,
    EventFact,
    Rule,
    Score,
    Scorer,
    evaluate,
    events_ordered,
)
from tests.scoring.engine.builders import NOW, ago, cond, d, lead, page, rule, track

DOWNLOAD, OPENED = "Document Downloaded", "Email Opened"
CATEGORY = ("properties.category", "eq")
CATEGORY_IS_PRICING = cond(*CATEGORY, "pricing")


def both_orders(first: EventFact, second: EventFact, *rules: Rule) -> list[Score]:
    """The score of the two events in both orders, by evaluate and by Scorer."""
    scorer = Scorer(rules)
    orders = [lead(first, second), lead(second, first)]
    return [evaluate(f, rules, now=NOW) for f in orders] + [
        scorer.evaluate(f, now=NOW) for f in orders
    ]


def test_copies_at_one_moment_keep_the_first_name_in_any_order():
    # one message id, one timestamp, two names: "Document Downloaded" < "Email Opened"
    download = track(DOWNLOAD, ago(1), id="msg-1")
    opened = track(OPENED, ago(1), id="msg-1")
    rules = (rule(id=1, event=OPENED, points=5), rule(id=2, event=DOWNLOAD, points=20))

    scores = both_orders(download, opened, *rules)

    # only the download counts: 20 points, whichever copy arrived first
    assert [s.breakdown for s in scores] == [
        (Contribution(2, "rule 2", "behavior", 1, d("20.00")),)
    ] * 4
    assert {s.score for s in scores} == {d("20.00")}


def test_copies_at_one_moment_keep_the_first_type_in_any_order():
    # "page" < "track": the page view is the copy that counts
    view = page(ago(1), id="msg-2")
    opened = track(OPENED, ago(1), id="msg-2")
    rules = (rule(id=1, event="page", points=1), rule(id=2, event=OPENED, points=10))

    assert {s.score for s in both_orders(view, opened, *rules)} == {d("1.00")}


def test_copies_at_one_moment_keep_the_first_properties_in_any_order():
    # same type and name; the properties decide: "docs" < "pricing"
    docs = track(DOWNLOAD, ago(1), id="msg-3", category="docs")
    pricing = track(DOWNLOAD, ago(1), id="msg-3", category="pricing")
    for_pricing = rule(id=1, event=DOWNLOAD, points=20, conditions=[CATEGORY_IS_PRICING])
    for_docs = rule(id=2, event=DOWNLOAD, points=3, conditions=[cond(*CATEGORY, "docs")])

    scores = both_orders(docs, pricing, for_pricing, for_docs)

    assert {(s.score, len(s.breakdown)) for s in scores} == {(d("3.00"), 1)}


def test_copies_at_one_moment_compare_values_of_other_types_and_context():
    # a flag sent as true or as 1: not the same data (a bool is not a number to a condition)
    flag = track(OPENED, ago(1), id="msg-4", n=True)
    number = track(OPENED, ago(1), id="msg-4", n=1)
    counts_one = rule(event=OPENED, points=7, conditions=[cond("properties.n", "eq", 1)])
    # ... and copies equal but for their context
    plain = track(OPENED, ago(1), id="msg-5", context={"campaign": {"source": "mail"}})
    tagged = track(OPENED, ago(1), id="msg-5", context={"campaign": {"source": "ad"}})
    from_ads = rule(
        event=OPENED, points=9, conditions=[cond("context.campaign.source", "eq", "ad")]
    )

    # booleans sort before numbers: the copy with true is kept, and true is not 1
    assert {s.score for s in both_orders(flag, number, counts_one)} == {d("0.00")}
    assert {s.score for s in both_orders(plain, tagged, from_ads)} == {d("9.00")}  # "ad" < "mail"


def test_copies_in_other_time_zones_are_one_moment():
    tokyo = timezone(timedelta(hours=9))
    utc = track(DOWNLOAD, ago(1), id="msg-6", category="pricing")
    local = track(DOWNLOAD, ago(1).astimezone(tokyo), id="msg-6", category="docs")
    pricing = rule(event=DOWNLOAD, points=20, conditions=[CATEGORY_IS_PRICING])

    assert {s.score for s in both_orders(utc, local, pricing)} == {d("0.00")}  # "docs" kept


def test_the_earliest_copy_wins_before_its_content_is_compared():
    # the later copy's name sorts first, but the earlier copy is the one that counts
    early = track(OPENED, ago(2), id="msg-7")
    late = track(DOWNLOAD, ago(1), id="msg-7")
    rules = (rule(id=1, event=OPENED, points=5), rule(id=2, event=DOWNLOAD, points=20))

    assert {s.score for s in both_orders(early, late, *rules)} == {d("5.00")}


def test_identical_copies_count_once_in_any_order():
    first = track(OPENED, ago(1), id="msg-8", category={"a": [1, "x", None]})
    resent = track(OPENED, ago(1), id="msg-8", category={"a": [1, "x", None]})

    scores = both_orders(first, resent, rule(event=OPENED, points=5))

    assert {(s.score, s.breakdown[0].count) for s in scores} == {(d("5.00"), 1)}


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ({"x": float("nan")}, {"x": "nan"}),
        ({"x": Decimal("1.0")}, {"x": Decimal("1.00")}),
        ({"x": 0.0}, {"x": -0.0}),
        ({"x": [1, 2]}, {"x": (1, 2)}),
        ({"x": {"b": 1, "a": 2}}, {"x": {"a": 2, "b": 0}}),
        ({1: "int key"}, {"1": "str key"}),
        ({"x": object}, {"x": None}),
    ],
)
def test_any_two_copies_are_ordered_whatever_their_values(one, other):
    # values no loader gives (they are not JSON): the same copy is kept in any order still
    a = EventFact("msg-9", "track", OPENED, ago(1), one)
    b = EventFact("msg-9", "track", OPENED, ago(1), other)

    kept = [events_ordered(pair) for pair in ((a, b), (b, a))]

    assert len(kept[0]) == 1
    assert kept[0][0] is kept[1][0]


def test_events_are_read_in_time_then_message_id_order():
    late, tied_b, tied_a = track(OPENED, ago(1), id="0"), page(ago(2), id="b"), page(ago(2), id="a")
    copy = track(DOWNLOAD, ago(2), id="b")  # a copy of "b" at the same moment: "page" < "track"

    ordered = events_ordered([late, copy, tied_b, tied_a])

    assert ordered == [tied_a, tied_b, late]
    assert ordered[1] is tied_b
