"""Scoring reads: a lead's stored score with the breakdown that adds up to it."""

from typing import Any

from mqlapp.models import Lead

from .models import LeadScore


def lead_score(lead: Lead) -> dict[str, Any]:
    detail = LeadScore.objects.filter(lead=lead).first()
    return {
        "score": float(lead.score),
        "engagement": float(lead.engagement),
        "fit": float(lead.fit),
        "as_of": detail.as_of.isoformat() if detail else None,
        "breakdown": detail.breakdown if detail else [],
    }
