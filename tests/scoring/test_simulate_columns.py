"""The simulator's count of draft behaviour rules over columns (scoring/services/
simulate_columns.py) takes the drafts it should, and equals the engine lead by lead on
generated events and rules on real PostgreSQL. tests/scoring/test_simulate_sql.py runs every
one of its tests through this path too."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

import numpy
import pytest
from django.utils import timezone

from mqlapp.leads.models import Event
from scoring.engine import Condition, Rule
from scoring.services import simulate_columns
from scoring.services.simulate_sql import SqlRule, rules_split
from tests.conftest import requires_postgres
from tests.factories import lead_make
from tests.scoring.test_simulate_sql import _engine_score, _rule, _running_rule, _stored_leads

pytestmark = [pytest.mark.django_db, requires_postgres]


def _behaviour(rng: random.Random, count: int, *, running: bool = False) -> list[Rule]:
    rules: list[Rule] = []
    while len(rules) < count:
        rule = (_running_rule if running else _rule)(rng, len(rules) + 1)
        if rule.kind == "behavior":
            rules.append(rule)
    return rules


@pytest.mark.parametrize("seed", range(10))
def test_the_columns_answer_each_lead_as_the_engine(seed):
    rng = random.Random(500 + seed)
    now = timezone.now().replace(microsecond=0)
    ids = _stored_leads(rng, now, 30)
    rules = _behaviour(rng, 4) + _behaviour(rng, 1, running=True)
    counted, rest = rules_split(rules, fast=True)
    assert rest == ()
    assert simulate_columns.available(counted)

    answer = simulate_columns.contributions(counted, low=min(ids), high=max(ids), now=now)

    assert answer is not None  # counted over columns, not left to the statement
    found, declined = answer
    expected = _engine_score(rules, ids, now)
    answered = {i: found.get(i, Decimal(0)) for i in ids if i not in declined}
    assert answered == {i: expected[i] for i in answered}, rules
    assert len(answered) >= 5


def test_points_that_do_not_fade_round_half_away_from_zero():
    count = numpy.array([0, 1, 2, 3], dtype=numpy.int64)
    assert simulate_columns._counted_cents(Decimal("0.005"), count).tolist() == [0, 1, 1, 2]
    assert simulate_columns._counted_cents(Decimal("-0.005"), count).tolist() == [0, -1, -1, -2]
    assert simulate_columns._counted_cents(Decimal("33.333"), count).tolist() == [
        0, 3333, 6667, 10000,
    ]  # fmt: skip
    assert simulate_columns._counted_cents(Decimal("20"), count).tolist() == [0, 2000, 4000, 6000]


def _items(*points: str) -> list[SqlRule]:
    return [
        SqlRule(Rule(i + 1, f"rule {i + 1}", "behavior", Decimal(p), event="page"), "page", ())
        for i, p in enumerate(points)
    ]


def test_drafts_the_columns_cannot_hold_are_left_to_the_statement():
    assert simulate_columns.available(_items("1", "0.005", "-7.35"))
    # points with more decimals than the integers keep, or too large for them
    assert not simulate_columns.available(_items("1", "0.000000001"))
    assert not simulate_columns.available(_items("1000000000"))
    # more rules than the conditions' column holds
    assert not simulate_columns.available(_items(*["1"] * (simulate_columns.RULES_MAX + 1)))


def test_a_copy_not_of_the_shape_asked_for_is_refused():
    header = simulate_columns._SIGNATURE + bytes(8)
    row = (5).to_bytes(2, "big") + b"".join(
        (8).to_bytes(4, "big") + value.to_bytes(8, "big", signed=True) for value in (7, 1, 0, 0, 0)
    )
    good = header + row + simulate_columns._TRAILER
    assert simulate_columns._columns(good)["subject"].tolist() == [7]
    assert simulate_columns._columns(header + row[:-1] + simulate_columns._TRAILER) is None
    null = row[:-12] + (-1).to_bytes(4, "big", signed=True) + bytes(8)  # a NULL's length
    assert simulate_columns._columns(header + null + simulate_columns._TRAILER) is None


def test_events_at_one_microsecond_count_as_the_engine_counts_them_in_any_order():
    """The columns are sorted by (lead, timestamp) in numpy, not by message id as the engine
    orders them: events at the same microsecond, stored against their ids' order, some
    meeting a condition and some not, under caps (running and windowed), fading and expiry,
    give each lead the engine's cents."""
    now = timezone.now().replace(microsecond=0)
    rng = random.Random(7)
    ids, rows = [], []
    for _ in range(12):
        lead = lead_make()
        ids.append(lead.pk)
        moments = [now - timedelta(days=rng.randint(0, 30), microseconds=7) for _ in range(3)]
        for n, at in enumerate(rng.choices(moments, k=9)):
            rows.append(Event(
                message_id=f"{lead.pk}-{99 - n:02d}", lead_id=lead.pk, type="track",
                name="Document Downloaded", timestamp=at, received_at=now,
                properties={"category": rng.choice(["pricing", "other"])},
            ))  # fmt: skip
    Event.objects.bulk_create(rows)  # against the ids' order: "…-99" is stored first
    pricing = (Condition("properties.category", "eq", "pricing"),)
    rules = [
        Rule(1, "capped", "behavior", Decimal("7.35"), event="Document Downloaded",
             max_times=2, half_life_days=Decimal("9")),
        Rule(2, "weekly", "behavior", Decimal("20"), event="Document Downloaded",
             conditions=pricing, max_times=3, window_days=Decimal("7")),
        Rule(3, "expiring", "behavior", Decimal("-0.005"), event="Document Downloaded",
             conditions=pricing, max_times=4, expire_after_days=Decimal("12")),
    ]  # fmt: skip
    counted, rest = rules_split(rules, fast=True)
    assert rest == ()

    answer = simulate_columns.contributions(counted, low=min(ids), high=max(ids), now=now)

    assert answer is not None
    found, declined = answer
    expected = _engine_score(rules, ids, now)
    answered = {i: found.get(i, Decimal(0)) for i in ids if i not in declined}
    assert answered == {i: expected[i] for i in answered}
    assert len(answered) >= 6
