"""Scoring reads: a lead's score with its breakdown, its score history, re-score jobs."""

from datetime import datetime
from typing import Any

from mqlapp.leads.models import Lead

from .models import LeadScore, RescoreJob, ScoreHistory, ScoringState

HISTORY_LIMIT = 1000


def lead_score(lead: Lead) -> dict[str, Any]:
    """The stored score; `as_of` is when it was last evaluated (the hourly refresh included:
    a refresh that leaves a score unchanged does not rewrite it)."""
    detail = LeadScore.objects.filter(lead=lead).first()
    zero = 0.0
    refreshed = ScoringState.objects.filter(pk=1).values_list("refreshed_at", flat=True).first()
    as_of = detail.as_of if detail else None
    if as_of is not None and refreshed is not None and refreshed > as_of:
        as_of = refreshed
    return {
        "score": float(detail.score) if detail else zero,
        "engagement": float(detail.engagement) if detail else zero,
        "fit": float(detail.fit) if detail else zero,
        "as_of": as_of.isoformat() if as_of else None,
        "breakdown": detail.breakdown if detail else [],
    }


def lead_score_history(
    lead: Lead, *, since: datetime | None = None, limit: int = HISTORY_LIMIT
) -> list[dict[str, Any]]:
    """The latest `limit` points (oldest first) of the lead's score over time."""
    rows = ScoreHistory.objects.filter(lead=lead)
    if since is not None:
        rows = rows.filter(at__gte=since)
    latest = list(rows.order_by("-at", "-id")[:limit])
    return [
        {
            "at": row.at.isoformat(),
            "score": float(row.score),
            "engagement": float(row.engagement),
            "fit": float(row.fit),
            "cause": row.cause,
        }
        for row in reversed(latest)
    ]


def rescore_job_as_dict(job: RescoreJob) -> dict[str, Any]:
    def moment(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "id": job.pk,
        "state": job.state,
        "total": job.total,
        "done": job.done,
        "changed": job.changed,
        "reason": job.reason,
        "requests": job.requests,
        "created_at": moment(job.created_at),
        "started_at": moment(job.started_at),
        "finished_at": moment(job.finished_at),
        "error": job.error,
    }


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
