"""Scoring writes and decisions: rules, live scoring, re-score jobs, the simulator."""

from .loader import LEAD_FACT_FIELDS, events_load, lead_facts
from .rescore import (
    rescore_fail,
    rescore_finish,
    rescore_jobs_stalled,
    rescore_request,
    rescore_run,
    rescore_start,
    rescore_step,
)
from .rules import rule_create, rule_delete, rule_update, rule_validate, rules_draft_parse
from .scores import breakdown_json, leads_refresh, leads_score, score_queue_claim
from .simulate import OUTCOME_KINDS, Outcome, scores_simulate
from .state import (
    RULE_FIELDS,
    RuleSets,
    rule_as_dict,
    rule_sets_for_scoring,
    rules_live,
    scores_refreshed,
)

# Event types a score can see (identify, group and alias calls never score).
SCORED_EVENT_TYPES = ("track", "page", "screen")

__all__ = [
    "LEAD_FACT_FIELDS",
    "OUTCOME_KINDS",
    "RULE_FIELDS",
    "SCORED_EVENT_TYPES",
    "Outcome",
    "RuleSets",
    "breakdown_json",
    "events_load",
    "lead_facts",
    "leads_refresh",
    "leads_score",
    "rescore_fail",
    "rescore_finish",
    "rescore_jobs_stalled",
    "rescore_request",
    "rescore_run",
    "rescore_start",
    "rescore_step",
    "rule_as_dict",
    "rule_create",
    "rule_delete",
    "rule_sets_for_scoring",
    "rule_update",
    "rule_validate",
    "rules_draft_parse",
    "rules_live",
    "score_queue_claim",
    "scores_refreshed",
    "scores_simulate",
]
