"""OpenAPI descriptions of the scoring API's bodies and answers (documentation only)."""

from typing import Any

from drf_spectacular.utils import OpenApiParameter, inline_serializer
from rest_framework import serializers as s


def _job() -> Any:
    return inline_serializer(
        "RescoreJob",
        {
            "id": s.IntegerField(allow_null=True),
            "state": s.ChoiceField(
                choices=["idle", "queued", "running", "done", "failed", "superseded"]
            ),
            "total": s.IntegerField(help_text="leads to re-score"),
            "done": s.IntegerField(help_text="leads re-scored so far"),
            "changed": s.IntegerField(required=False, help_text="leads whose score changed"),
            "reason": s.CharField(required=False),
            "requests": s.IntegerField(required=False, help_text="rule changes it covers"),
            "created_at": s.DateTimeField(required=False),
            "started_at": s.DateTimeField(required=False, allow_null=True),
            "finished_at": s.DateTimeField(required=False, allow_null=True),
            "error": s.CharField(required=False),
        },
    )


RescoreJob = _job()

LeadScore = inline_serializer(
    "LeadScore",
    {
        "score": s.FloatField(),
        "engagement": s.FloatField(),
        "fit": s.FloatField(),
        "as_of": s.DateTimeField(allow_null=True),
        "breakdown": inline_serializer(
            "ScoreContribution",
            {
                "rule_id": s.IntegerField(),
                "rule": s.CharField(),
                "kind": s.ChoiceField(choices=["behavior", "fit", "inactivity"]),
                "count": s.IntegerField(),
                "points": s.FloatField(),
            },
            many=True,
        ),
    },
)

HistoryPoint = inline_serializer(
    "ScorePoint",
    {
        "at": s.DateTimeField(),
        "score": s.FloatField(),
        "engagement": s.FloatField(),
        "fit": s.FloatField(),
        "cause": s.ChoiceField(choices=["event", "time", "rules"]),
    },
    many=True,
)

HISTORY_PARAMS = [
    OpenApiParameter("limit", int, description="the latest points (1-10000, default 1000)"),
    OpenApiParameter("since", str, description="ISO 8601 time with a zone"),
]

_count = inline_serializer(
    "BacktestCount", {"would_qualify": s.IntegerField(), "total": s.IntegerField()}
)

SimulateBody = inline_serializer(
    "SimulateBody",
    {
        "rules": s.ListField(
            child=s.DictField(), required=False, allow_null=True,
            help_text="draft rules in the rules API's format; omitted: the live rules",
        ),
        "mql_threshold": s.FloatField(required=False, help_text="omitted: the policy's"),
        "min_fit": s.FloatField(required=False, allow_null=True, help_text="omitted: the policy's"),
    },
)  # fmt: skip

SimulateAnswer = inline_serializer(
    "SimulateAnswer",
    {
        "leads_evaluated": s.IntegerField(),
        "would_qualify": s.IntegerField(),
        "currently_mql_or_later": s.IntegerField(),
        "newly_qualified": s.IntegerField(),
        "no_longer_qualified": s.IntegerField(),
        "histogram": inline_serializer(
            "HistogramBucket",
            {"from": s.FloatField(), "to": s.FloatField(), "count": s.IntegerField()},
            many=True,
        ),
        "backtest": inline_serializer(
            "Backtest",
            {"accepted": _count, "rejected": _count, "won": _count, "lost": _count},
        ),
        "mql_threshold": s.FloatField(),
        "min_fit": s.FloatField(allow_null=True),
        "rules_evaluated": s.IntegerField(),
        "rules_reused": s.IntegerField(),
        "as_of": s.DateTimeField(),
    },
)
