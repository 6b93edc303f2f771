"""Scoring fixtures: the seed article's rules, a lead with hand-computed activity, helpers."""

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.pipeline import leads_score_pending

# The seed article's rules: web visits, newsletter opens, downloads, seminars, a download
# followed by silence (negative), and two fit rules.
MIXED_RULES: list[dict[str, Any]] = [
    {"name": "Web visit", "kind": "behavior", "event": "page", "points": 1, "max_times": 3,
     "window_days": 1},
    {"name": "Pricing whitepaper", "kind": "behavior", "event": "Document Downloaded",
     "conditions": [{"field": "properties.category", "op": "eq", "value": "pricing"}],
     "points": 20, "max_times": 3},
    {"name": "Newsletter opened", "kind": "behavior", "event": "Email Opened", "points": 2,
     "expire_after_days": 30},
    {"name": "Seminar attended", "kind": "behavior", "event": "Seminar Attended", "points": 40,
     "half_life_days": 30},
    {"name": "Download then silence", "kind": "inactivity", "after_event": "Document Downloaded",
     "watch_events": ["page", "Email Opened"], "inactive_days": 14, "points": -10},
    {"name": "Manager or above", "kind": "fit", "points": 15,
     "conditions": [{"field": "title", "op": "in", "value": ["部長", "課長", "Manager"]}]},
    {"name": "Company size 100+", "kind": "fit", "points": 10,
     "conditions": [{"field": "employees", "op": "gte", "value": 100}]},
    {"name": "Unsubscribed", "kind": "behavior", "event": "Unsubscribed", "points": -30},
]  # fmt: skip

# What MIXED_ACTIVITY scores under MIXED_RULES, by hand (rule name → count, points):
#  Web visit: 4 page views 2 days ago within one day, at most 3 a day → 3, + 1 at 30 d → 4 × 1
#  Pricing whitepaper: pricing downloads at 20 d and 25 d (the 22 d one is "docs") → 2 × 20
#  Newsletter opened: opens at 40 d and 35 d expired (> 30 d); 3, 2, 1 d → 3 × 2
#  Seminar attended: one, 60 days old, half-life 30 days: 40 × 0.5^(60/30) = 40 / 4 = 10
#  Download then silence: last download 20 d ago, no page view or open in the 14 days after → -10
#  Manager or above: 部長 → 15; Company size 100+: 250 employees → 10
MIXED_EXPECTED = {
    "Web visit": (4, 4.0),
    "Pricing whitepaper": (2, 40.0),
    "Newsletter opened": (3, 6.0),
    "Seminar attended": (1, 10.0),
    "Download then silence": (1, -10.0),
    "Manager or above": (1, 15.0),
    "Company size 100+": (1, 10.0),
}
MIXED_ENGAGEMENT, MIXED_FIT, MIXED_SCORE = 50.0, 25.0, 75.0


def mixed_activity(email: str, now: datetime) -> list[dict[str, Any]]:
    """Segment messages for one lead: an identify with its data and 15 events."""

    def at(days: float, hours: float = 0) -> str:
        return (now - timedelta(days=days, hours=hours)).isoformat()

    def track(event: str, when: str, **properties: Any) -> dict[str, Any]:
        return {"type": "track", "userId": email, "event": event, "timestamp": when,
                "properties": properties, "messageId": str(uuid.uuid4())}  # fmt: skip

    def page(when: str) -> dict[str, Any]:
        return {"type": "page", "userId": email, "timestamp": when,
                "properties": {"path": "/"}, "messageId": str(uuid.uuid4())}  # fmt: skip

    identify = {
        "type": "identify",
        "userId": email,
        "traits": {"email": email, "title": "部長", "employees": 250, "company": "株式会社サクラ"},
        "timestamp": at(61),
        "messageId": str(uuid.uuid4()),
    }
    return [
        identify,
        page(at(2)), page(at(2, 1)), page(at(2, 2)), page(at(2, 3)), page(at(30)),
        track("Document Downloaded", at(20), category="pricing"),
        track("Document Downloaded", at(25), category="Pricing"),
        track("Document Downloaded", at(22), category="docs"),
        track("Email Opened", at(40)), track("Email Opened", at(35)),
        track("Email Opened", at(3)), track("Email Opened", at(2)), track("Email Opened", at(1)),
        track("Seminar Attended", at(60)),
    ]  # fmt: skip


def expected_breakdown(rule_ids: dict[str, int]) -> list[dict[str, Any]]:
    return [
        {"rule_id": rule_ids[name], "rule": name, "kind": kind, "count": count, "points": points}
        for name, (count, points), kind in sorted(
            (
                (name, value, next(r["kind"] for r in MIXED_RULES if r["name"] == name))
                for name, value in MIXED_EXPECTED.items()
            ),
            key=lambda item: rule_ids[item[0]],
        )
    ]


def score_all() -> None:
    while leads_score_pending(limit=500):
        pass


@pytest.fixture
def background_rescore(settings: Any) -> None:
    """Rule changes always go through a background job (no inline re-score)."""
    settings.SCORING_RESCORE_INLINE_MAX = 0
