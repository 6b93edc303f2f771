"""Scoring writes and decisions: rules, live scoring, re-score jobs, the simulator."""

from .loader import LEAD_FACT_FIELDS, events_load, lead_facts
from .path import ScorePoint, score_path
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
from .scores import (
    Refreshed,
    breakdown_json,
    lead_epoch_move,
    leads_refresh,
    leads_score,
    leads_score_enqueue,
    leads_score_pending,
    score_rows_create,
    score_rows_merge,
    scores_refresh,
    scores_refresh_due,
)
from .simulate import CANDIDATE, HANDED_OVER, OUTCOME_KINDS, WAITING, Outcome, scores_simulate
from .state import (
    RULE_FIELDS,
    RuleSets,
    rule_as_dict,
    rule_sets_for_scoring,
    rules_live,
    scores_refreshed,
)

__all__ = [
    "CANDIDATE",
    "HANDED_OVER",
    "LEAD_FACT_FIELDS",
    "OUTCOME_KINDS",
    "RULE_FIELDS",
    "WAITING",
    "Outcome",
    "Refreshed",
    "RuleSets",
    "ScorePoint",
    "breakdown_json",
    "events_load",
    "lead_epoch_move",
    "lead_facts",
    "leads_refresh",
    "leads_score",
    "leads_score_enqueue",
    "leads_score_pending",
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
    "score_path",
    "score_rows_create",
    "score_rows_merge",
    "scores_refresh",
    "scores_refresh_due",
    "scores_refreshed",
    "scores_simulate",
]
