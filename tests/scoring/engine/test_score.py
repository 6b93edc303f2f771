"""Score assembly: rounding, breakdown order, qualification, purity of the engine."""

from __future__ import annotations

import ast
import sys
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

import scoring.engine
from scoring.engine import LeadFacts, evaluate, qualifies
from tests.scoring.engine.builders import NOW, ago, cond, d, lead, rule, score_of, track

ENGINE_DIR = Path(scoring.engine.__file__).parent


def test_breakdown_is_rounded_per_rule_and_adds_up_to_the_score():
    # given three 10-point rules with a 30-day half-life and events 1, 1 and 8 days old
    facts = lead(track("A", ago(1)), track("B", ago(1)), track("C", ago(8)))
    rules = [rule(id=i, event=name, half_life_days=30) for i, name in enumerate("ABC", start=1)]

    result = score_of(facts, *rules)

    # 10 × 0.5^(1/30) = 9.7716 → 9.77 (twice); 10 × 0.5^(8/30) = 8.3124 → 8.31
    # sum of rounded = 27.85, although the unrounded sum 27.8556 would round to 27.86
    assert [c.points for c in result.breakdown] == [d("9.77"), d("9.77"), d("8.31")]
    assert result.score == d("27.85")
    assert sum(c.points for c in result.breakdown) == result.score


def test_rounding_is_half_up():
    facts = lead(track("A", ago(1)), track("B", ago(1)))
    rules = [rule(id=1, event="A", points="0.125"), rule(id=2, event="B", points="-0.125")]

    result = score_of(facts, *rules)

    assert [c.points for c in result.breakdown] == [d("0.13"), d("-0.13")]  # away from zero
    assert result.score == d("0.00")


def test_breakdown_is_ordered_by_rule_id_whatever_the_rule_order():
    facts = lead(track("A", ago(1)), country="JP")
    rules = [
        rule("fit", id=9, conditions=[cond("country", "eq", "JP")]),
        rule(id=2, event="A"),
        rule(id=5, event="A", points=1),
    ]

    result = evaluate(facts, list(reversed(rules)), now=NOW)

    assert [c.rule_id for c in result.breakdown] == [2, 5, 9]
    assert (result.engagement, result.fit, result.score) == (d("11.00"), d("10.00"), d("21.00"))


def test_empty_lead_scores_zero_with_two_decimals():
    result = evaluate(LeadFacts(), [], now=NOW)

    assert (str(result.score), str(result.engagement), str(result.fit)) == ("0.00",) * 3
    assert result.breakdown == ()


def test_qualifies_needs_threshold_and_min_fit():
    facts = lead(track("A", ago(1)), country="JP")
    result = score_of(
        facts,
        rule(id=1, event="A", points=70),
        rule("fit", id=2, conditions=[cond("country", "eq", "JP")]),
    )  # engagement 70, fit 10, score 80

    assert qualifies(result, threshold=Decimal(80), min_fit=None)
    assert not qualifies(result, threshold=Decimal("80.01"), min_fit=None)
    assert qualifies(result, threshold=Decimal(80), min_fit=Decimal(10))
    assert not qualifies(result, threshold=Decimal(80), min_fit=Decimal(11))


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="now must be timezone-aware"):
        evaluate(LeadFacts(), [], now=datetime(2025, 6, 1, 12, 0))  # noqa: DTZ001 (naive on purpose)
    naive_event = track("A", datetime(2025, 6, 1))  # noqa: DTZ001 (naive on purpose)
    with pytest.raises(ValueError, match="timezone-aware"):
        evaluate(lead(naive_event), [], now=NOW)


def test_unknown_rule_kind_is_refused():
    with pytest.raises(ValueError, match="unknown kind 'magic'"):
        score_of(lead(), rule("magic"))


def test_engine_imports_only_the_standard_library_and_itself():
    imported: set[str] = set()
    for path in ENGINE_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add(node.module.split(".")[0])

    assert imported - sys.stdlib_module_names == {"scoring"}


def test_engine_never_reads_the_clock():
    source = "\n".join(path.read_text() for path in ENGINE_DIR.glob("*.py"))

    for call in (".now(", ".utcnow(", ".today(", "time.time(", "monotonic("):
        assert call not in source
