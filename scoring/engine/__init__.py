"""The pure scoring engine: facts and rules in, a Score out; standard library only."""

from scoring.engine.conditions import FIT_FIELDS, OPS, event_matches_name
from scoring.engine.evaluate import (
    Fade,
    FadeState,
    evaluate,
    evaluate_state,
    evaluate_until,
    events_ordered,
    next_change,
    passes,
    qualifies,
    refade,
)
from scoring.engine.facts import (
    Condition,
    Contribution,
    EventFact,
    LeadFacts,
    Rule,
    Score,
    event_fact,
)
from scoring.engine.parse import KINDS, RuleInvalid, kind_uses, parse_rule
from scoring.engine.plan import (
    EVERY_EVENT,
    Needs,
    changes_with_time,
    definition,
    needs,
    project,
)
from scoring.engine.scorer import Scorer

__all__ = [
    "EVERY_EVENT",
    "FIT_FIELDS",
    "KINDS",
    "OPS",
    "Condition",
    "Contribution",
    "EventFact",
    "Fade",
    "FadeState",
    "LeadFacts",
    "Needs",
    "Rule",
    "RuleInvalid",
    "Score",
    "Scorer",
    "changes_with_time",
    "definition",
    "evaluate",
    "evaluate_state",
    "evaluate_until",
    "event_fact",
    "event_matches_name",
    "events_ordered",
    "kind_uses",
    "needs",
    "next_change",
    "parse_rule",
    "passes",
    "project",
    "qualifies",
    "refade",
]
