"""The pure scoring engine: facts and rules in, a Score out; standard library only."""

from scoring.engine.conditions import FIT_FIELDS, OPS, event_matches_name
from scoring.engine.evaluate import evaluate, qualifies
from scoring.engine.facts import (
    Condition,
    Contribution,
    EventFact,
    LeadFacts,
    Rule,
    Score,
)
from scoring.engine.parse import KINDS, RuleInvalid, parse_rule

__all__ = [
    "FIT_FIELDS",
    "KINDS",
    "OPS",
    "Condition",
    "Contribution",
    "EventFact",
    "LeadFacts",
    "Rule",
    "RuleInvalid",
    "Score",
    "evaluate",
    "event_matches_name",
    "parse_rule",
    "qualifies",
]
