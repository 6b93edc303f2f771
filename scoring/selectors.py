"""Scoring reads: a lead's score with its breakdown, its score history, re-score jobs."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, overload

from django.db.models import Subquery

from mqlapp.leads.models import Event, Lead

from . import engine
from .models import LeadScore, RescoreJob, ScoreHistory, ScoreQueue, ScoringState
from .services.state import rules_live

HISTORY_LIMIT = 1000


def backfill_scoring() -> bool:
    """Whether a back-fill's leads (a large batch, an import) wait to be scored, or are
    being scored now: more of their scores are still to come."""
    return ScoreQueue.objects.filter(bulk=True).exists()


@dataclass(frozen=True)
class ScoreSummary:
    """A lead's stored score as the API and the lead page show it; `breakdown` holds the
    stored contributions (`rule_id, rule, kind, count, points`)."""

    score: float
    engagement: float
    fit: float
    as_of: datetime | None
    breakdown: list[dict[str, Any]] = field(default_factory=list)


@overload
def lead_score(lead: Lead) -> ScoreSummary: ...
@overload
def lead_score(lead: int) -> ScoreSummary | None: ...
def lead_score(lead: Lead | int) -> ScoreSummary | None:
    """The stored score; `as_of` is when it was last evaluated (the hourly refresh included:
    a refresh that leaves a score unchanged does not rewrite it). Given an id, None when no
    lead has it. One query (the API answers it while a probe polls)."""
    lead_id = lead if isinstance(lead, int) else lead.pk
    refreshed = ScoringState.objects.filter(pk=1).values("refreshed_at")[:1]
    detail = (
        LeadScore.objects.filter(lead_id=lead_id)
        .annotate(refreshed=Subquery(refreshed))
        .values_list("score", "engagement", "fit", "as_of", "breakdown", "refreshed")
        .first()
    )
    if detail is None:
        if isinstance(lead, int) and not Lead.objects.filter(pk=lead).exists():
            return None
        return ScoreSummary(score=0.0, engagement=0.0, fit=0.0, as_of=None)
    score, engagement, fit, as_of, breakdown, refreshed_at = detail
    if as_of is not None and refreshed_at is not None and refreshed_at > as_of:
        as_of = refreshed_at
    return ScoreSummary(
        score=float(score), engagement=float(engagement), fit=float(fit), as_of=as_of,
        breakdown=breakdown,
    )  # fmt: skip


def lead_score_history(
    lead: Lead, *, since: datetime | None = None, limit: int = HISTORY_LIMIT
) -> list[ScoreHistory]:
    """The latest `limit` points (oldest first) of the lead's score over time."""
    rows = ScoreHistory.objects.filter(lead=lead)
    if since is not None:
        rows = rows.filter(at__gte=since)
    latest = list(rows.order_by("-at", "-id")[:limit])
    latest.reverse()
    return latest


@dataclass(frozen=True)
class RescoreIdle:
    """Re-score progress before any rule change started a job."""

    id: None = None
    state: str = "idle"
    total: int = 0
    done: int = 0


def rescore_progress() -> RescoreJob | RescoreIdle:
    """The latest re-score job (what the last rule change started), or idle before any."""
    return rescore_job_latest() or RescoreIdle()


def rescore_job_latest() -> RescoreJob | None:
    return RescoreJob.objects.order_by("-id").first()


def rescore_job_get(pk: int) -> RescoreJob | None:
    return RescoreJob.objects.filter(pk=pk).first()


def lead_score_data(lead_id: int) -> dict[str, Any]:
    """Scoring's part of a personal-data export (SPEC §6): the score, breakdown and history."""
    detail = LeadScore.objects.filter(lead_id=lead_id).first()
    return {
        "lead": {
            "score": float(detail.score) if detail else 0.0,
            "engagement": float(detail.engagement) if detail else 0.0,
            "fit": float(detail.fit) if detail else 0.0,
        },
        "score": {
            "breakdown": detail.breakdown if detail else [],
            "as_of": detail.as_of.isoformat() if detail and detail.as_of else None,
            "history": [
                {"at": h.at.isoformat(), "score": float(h.score), "cause": h.cause}
                for h in ScoreHistory.objects.filter(lead_id=lead_id).order_by("at", "id")
            ],
        },
    }


def events_engagement(
    events_by_key: Mapping[str, Sequence[Event]], *, now: datetime
) -> dict[str, Decimal]:
    """What the live behaviour and inactivity rules would give these events (per key, e.g. a
    not-identified visitor's anonymousId): the engagement the visitor would bring to a lead
    that identified now. Fit rules need a person, so they are left out."""
    _version, rules = rules_live()
    behaviour = tuple(rule for rule in rules if rule.active and rule.kind != "fit")
    if not behaviour:
        return dict.fromkeys(events_by_key, Decimal(0))
    scorer = engine.Scorer(behaviour)
    found = {}
    for key, events in events_by_key.items():
        facts = engine.LeadFacts(
            events=tuple(
                engine.EventFact(
                    id=e.message_id,
                    type=e.type,
                    name=e.name,
                    timestamp=e.timestamp,
                    properties=e.properties or {},
                    context=e.context or {},
                )
                for e in events
            )
        )
        found[key] = scorer.evaluate(facts, now=now).score
    return found
