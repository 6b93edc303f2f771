"""Live scoring: score a batch of leads under the published rules and store what changed."""

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction

from mqlapp.leads.models import Lead, ScoreQueue

from .. import engine
from ..models import LeadScore, RescoreResult, ScoreHistory
from .loader import LEAD_FACT_FIELDS, events_load, lead_facts
from .state import RuleSets, rule_sets_for_scoring

# Time-driven changes (fading, inactivity) add a history point only when the score moved at
# least this much since the last point, or the last point is this old: the chart stays
# faithful and the table small (every lead would otherwise get a point every hour).
HISTORY_MIN_DELTA = Decimal("1.00")
HISTORY_MIN_INTERVAL = timedelta(days=1)
Cause = ScoreHistory.Cause


def breakdown_json(score: engine.Score) -> list[dict[str, Any]]:
    return [
        {
            "rule_id": c.rule_id,
            "rule": c.rule,
            "kind": c.kind,
            "count": c.count,
            "points": float(c.points),
        }
        for c in score.breakdown
    ]


def _history_due(detail: LeadScore | None, score: engine.Score, *, now: datetime) -> bool:
    if detail is None or detail.history_score is None or detail.history_at is None:
        return True
    moved = abs(score.score - detail.history_score) >= HISTORY_MIN_DELTA
    return moved or now - detail.history_at >= HISTORY_MIN_INTERVAL


def leads_score(
    lead_ids: Sequence[int],
    *,
    now: datetime,
    cause: str = Cause.EVENT,
    sets: RuleSets | None = None,
) -> dict[int, engine.Score]:
    """Score these leads at `now` under the published rules, store what changed, and return
    every lead's score. Run it inside the caller's transaction: the rule set is read under a
    share lock (pass `sets` from `rule_sets_for_scoring()` when the caller took it first),
    so a re-score swap never lands in the middle of a batch."""
    scores, _ = _leads_score(lead_ids, now=now, cause=cause, sets=sets)
    return scores


def leads_refresh(lead_ids: Sequence[int], *, now: datetime) -> dict[int, engine.Score]:
    """The periodic re-score (fading, inactivity); returns only the scores that changed."""
    scores, changed = _leads_score(lead_ids, now=now, cause=Cause.TIME, sets=None)
    return {pk: scores[pk] for pk in changed}


@transaction.atomic
def _leads_score(
    lead_ids: Sequence[int], *, now: datetime, cause: str, sets: RuleSets | None
) -> tuple[dict[int, engine.Score], set[int]]:
    sets = sets or rule_sets_for_scoring()
    if cause == Cause.TIME and not engine.changes_with_time(sets.live):
        return {}, set()
    leads = list(
        Lead.objects.filter(pk__in=list(lead_ids))
        .select_for_update(of=("self",))
        .order_by("pk")
        .only(*LEAD_FACT_FIELDS, "score", "engagement", "fit")
    )
    if not leads:
        return {}, set()
    plan = engine.needs(sets.live + sets.building)
    events = events_load([lead.pk for lead in leads], plan=plan)
    details = {d.lead_id: d for d in LeadScore.objects.filter(lead_id__in=[x.pk for x in leads])}
    scores: dict[int, engine.Score] = {}
    changed: set[int] = set()
    lead_rows: list[Lead] = []
    detail_rows: list[LeadScore] = []
    history: list[ScoreHistory] = []
    building: list[RescoreResult] = []
    for lead in leads:
        facts = lead_facts(lead, events.get(lead.pk, ()))
        score = engine.evaluate(facts, sets.live, now=now)
        scores[lead.pk] = score
        detail = details.get(lead.pk)
        breakdown = breakdown_json(score)
        new = (score.score, score.engagement, score.fit)
        moved = (lead.score, lead.engagement, lead.fit) != new
        if moved:
            changed.add(lead.pk)
            lead.score, lead.engagement, lead.fit = new
            lead_rows.append(lead)
        point = moved and (cause != Cause.TIME or _history_due(detail, score, now=now))
        if point:
            history.append(
                ScoreHistory(
                    lead_id=lead.pk,
                    at=now,
                    score=score.score,
                    engagement=score.engagement,
                    fit=score.fit,
                    cause=cause,
                )
            )
        stale = (
            detail is None or detail.breakdown != breakdown or detail.rules_version != sets.version
        )
        # Event-driven scoring always records when it evaluated (as_of); the hourly refresh
        # rewrites only what changed and marks the whole pass (ScoringState.refreshed_at).
        if moved or stale or cause != Cause.TIME:
            detail_rows.append(
                LeadScore(
                    lead_id=lead.pk,
                    breakdown=breakdown,
                    as_of=now,
                    rules_version=sets.version,
                    history_score=score.score if point else getattr(detail, "history_score", None),
                    history_at=now if point else getattr(detail, "history_at", None),
                )
            )
        if sets.building_job is not None:
            building.append(_result(sets.building_job, sets.building, lead.pk, facts, now=now))
    _store(lead_rows, detail_rows, history, building)
    return scores, changed


def _result(
    job_id: int,
    rules: Sequence[engine.Rule],
    lead_id: int,
    facts: engine.LeadFacts,
    *,
    now: datetime,
) -> RescoreResult:
    score = engine.evaluate(facts, rules, now=now)
    return RescoreResult(
        job_id=job_id,
        lead_id=lead_id,
        score=score.score,
        engagement=score.engagement,
        fit=score.fit,
        breakdown=breakdown_json(score),
        as_of=now,
    )


def _store(
    leads: list[Lead],
    details: list[LeadScore],
    history: list[ScoreHistory],
    building: list[RescoreResult],
) -> None:
    if leads:
        Lead.objects.bulk_update(leads, ["score", "engagement", "fit"], batch_size=1000)
    if details:
        LeadScore.objects.bulk_create(
            details,
            batch_size=1000,
            update_conflicts=True,
            unique_fields=["lead"],
            update_fields=["breakdown", "as_of", "rules_version", "history_score", "history_at"],
        )
    if history:
        ScoreHistory.objects.bulk_create(history, batch_size=1000)
    if building:
        # While a re-score builds, the newest score under its rules is this one.
        RescoreResult.objects.bulk_create(
            building,
            batch_size=1000,
            update_conflicts=True,
            unique_fields=["job", "lead_id"],
            update_fields=["score", "engagement", "fit", "breakdown", "as_of"],
        )


def score_queue_claim(*, limit: int) -> list[int]:
    """Take up to `limit` queued leads for this transaction (others skip them: SKIP LOCKED)."""
    ids = list(
        ScoreQueue.objects.select_for_update(skip_locked=True)
        .order_by("enqueued_at")
        .values_list("lead_id", flat=True)[:limit]
    )
    ScoreQueue.objects.filter(lead_id__in=ids).delete()
    return ids
