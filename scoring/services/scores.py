"""Live scoring: drain the "leads to score" queue, score under the published rules, store what
changed, and tell the apps above (`scoring.hooks.scores_computed`)."""

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from mqlapp.leads.models import Lead
from mqlapp.leads.services import task_kick

from .. import engine, hooks
from ..models import LeadScore, RescoreResult, ScoreHistory, ScoreQueue
from .loader import events_load, lead_facts, leads_for_facts
from .state import RuleSets, rule_sets_for_scoring, rules_live, scores_refreshed

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
    # Scoring's own rows are locked (in id order), never the lead's: ingestion and handoff
    # do not wait on a scoring batch. Two batches of the same lead take turns here.
    details = {
        d.lead_id: d
        for d in LeadScore.objects.filter(lead_id__in=list(lead_ids))
        .select_for_update()
        .order_by("lead_id")
    }
    leads = list(leads_for_facts(Lead.objects.filter(pk__in=list(details))).order_by("pk"))
    if not leads:
        return {}, set()
    plan = engine.needs(sets.live + sets.building)
    events = events_load([lead.pk for lead in leads], plan=plan)
    scores: dict[int, engine.Score] = {}
    changed: set[int] = set()
    detail_rows: list[LeadScore] = []
    history: list[ScoreHistory] = []
    building: list[RescoreResult] = []
    for lead in leads:
        facts = lead_facts(lead, events.get(lead.pk, ()))
        score = engine.evaluate(facts, sets.live, now=now)
        scores[lead.pk] = score
        detail = details[lead.pk]
        breakdown = breakdown_json(score)
        moved = (detail.score, detail.engagement, detail.fit) != (
            score.score,
            score.engagement,
            score.fit,
        )
        if moved:
            changed.add(lead.pk)
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
        stale = detail.breakdown != breakdown or detail.rules_version != sets.version
        # Event-driven scoring always records when it evaluated (as_of); the hourly refresh
        # rewrites only what changed and marks the whole pass (ScoringState.refreshed_at).
        if moved or stale or cause != Cause.TIME:
            detail.score, detail.engagement, detail.fit = score.score, score.engagement, score.fit
            detail.breakdown, detail.as_of, detail.rules_version = breakdown, now, sets.version
            if point:
                detail.history_score, detail.history_at = score.score, now
            detail_rows.append(detail)
        if sets.building_job is not None:
            building.append(_result(sets.building_job, sets.building, lead.pk, facts, now=now))
    _store(detail_rows, history, building)
    hooks.scores_computed(sorted(changed if cause == Cause.TIME else scores))
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


DETAIL_FIELDS = (
    "score",
    "engagement",
    "fit",
    "breakdown",
    "as_of",
    "rules_version",
    "history_score",
    "history_at",
)


def _store(
    details: list[LeadScore], history: list[ScoreHistory], building: list[RescoreResult]
) -> None:
    if details:
        # INSERT … ON CONFLICT DO UPDATE: one statement per batch; bulk_update's CASE per
        # column and row cost 20× more (docs/benchmarks.md).
        LeadScore.objects.bulk_create(
            details,
            batch_size=1000,
            update_conflicts=True,
            unique_fields=["lead"],
            update_fields=DETAIL_FIELDS,
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


def leads_score_enqueue(lead_ids: Iterable[int]) -> None:
    """Queue leads for scoring in the caller's transaction; the scoring task runs after commit."""
    if not ScoreQueue.append(lead_ids):
        return
    from ..tasks import leads_score_pending as task  # noqa: PLC0415 (tasks import this module)

    transaction.on_commit(lambda: task_kick(task.name))


def leads_score_pending(*, limit: int = 200, now: datetime | None = None) -> int:
    """Score one batch of queued leads; returns how many queue rows' leads were scored."""
    now = now or timezone.now()
    with transaction.atomic():
        # The rule set first (a share lock), then queue rows, then score rows: a re-score
        # swap waits for this batch, and never holds what this batch waits for.
        sets = rule_sets_for_scoring()
        ids = ScoreQueue.claim(limit=limit)
        if not ids:
            return 0
        leads_score(ids, now=now, sets=sets)
    return len(ids)


def scores_refresh(*, batch: int = 1000) -> int:
    """Fading and inactivity change scores without events: re-score every lead in id
    batches and store what changed; returns how many changed."""
    started = timezone.now()
    if not engine.changes_with_time(rules_live()[1]):
        scores_refreshed(at=started)
        return 0
    after, changed = 0, 0
    while ids := list(
        LeadScore.objects.filter(lead_id__gt=after)
        .order_by("lead_id")
        .values_list("lead_id", flat=True)[:batch]
    ):
        after = ids[-1]
        changed += len(leads_refresh(ids, now=timezone.now()))
    scores_refreshed(at=started)
    return changed


def lead_epoch_move(lead_id: int, *, at: datetime) -> None:
    """Engagement counts from `at` on (a recycle, SPEC §5); the lead is re-scored."""
    LeadScore.objects.filter(lead_id=lead_id).update(epoch=at)
    leads_score_enqueue([lead_id])


# --- the core's hooks: a score row per lead, queued on change, merged with the lead ----------


def score_rows_create(lead_ids: list[int]) -> None:
    LeadScore.objects.bulk_create(
        [LeadScore(lead_id=i) for i in lead_ids], ignore_conflicts=True, batch_size=1000
    )


def score_rows_merge(*, into: int, duplicate: int) -> dict[str, Any]:
    """The survivor keeps its own score row and history (it is re-scored from all events
    now); the duplicate's score is kept in the merge record."""
    row = LeadScore.objects.filter(lead_id=duplicate).values_list("score", flat=True).first()
    return {"score": str(row) if row is not None else None}
