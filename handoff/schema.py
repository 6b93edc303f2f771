"""OpenAPI descriptions of the handoff API's bodies and answers (documentation only)."""

from collections.abc import Callable
from typing import Any

from drf_spectacular.utils import OpenApiParameter, inline_serializer
from rest_framework import serializers as s

from .lifecycle import REASONS, WEBHOOK_EVENTS


def _shared(build: Callable[[bool], Any]) -> Callable[..., Any]:
    """One component class per shape, used for one object and for lists of it."""
    made: dict[str, type] = {}

    def shape(many: bool = False) -> Any:
        if "cls" not in made:
            made["cls"] = type(build(False))
        return made["cls"](many=many)

    return shape


REPORT_PARAMS = [
    OpenApiParameter("from", str, description="YYYY-MM-DD (local day) or ISO date-time"),
    OpenApiParameter("to", str, description="YYYY-MM-DD (inclusive) or ISO date-time"),
    OpenApiParameter("source", int, description="a source id"),
]


@_shared
def ActionBody(many: bool = False) -> Any:
    return inline_serializer(
        "QueueActionBody",
        {
            "reason": s.ChoiceField(choices=REASONS, required=False),
            "note": s.CharField(required=False),
            "reapproach_on": s.DateField(required=False),
            "owner": s.IntegerField(
                required=False, help_text="claim only, admins: give it to a rep"
            ),
        },
        many=many,
    )


@_shared
def HistoryRow(many: bool = False) -> Any:
    return inline_serializer(
        "StageChange",
        {
            "from": s.CharField(),
            "to": s.CharField(),
            "at": s.DateTimeField(),
            "by": s.CharField(allow_null=True),
            "reason": s.CharField(),
            "note": s.CharField(),
            "score": s.FloatField(),
            "cycle": s.IntegerField(),
        },
        many=many,
    )


@_shared
def AssignmentRow(many: bool = False) -> Any:
    return inline_serializer(
        "AssignmentRow",
        {
            "user": s.IntegerField(),
            "username": s.CharField(),
            "at": s.DateTimeField(),
            "why": s.CharField(),
            "by": s.CharField(allow_null=True),
            "cycle": s.IntegerField(),
            "notified_at": s.DateTimeField(allow_null=True),
        },
        many=many,
    )


_territory = _shared(
    lambda many: inline_serializer(
        "Territory",
        {
            "countries": s.ListField(child=s.CharField()),
            "employees_min": s.IntegerField(allow_null=True),
            "employees_max": s.IntegerField(allow_null=True),
        },
    )
)


@_shared
def RepRow(many: bool = False) -> Any:
    return inline_serializer(
        "Rep",
        {
            "id": s.IntegerField(),
            "username": s.CharField(),
            "email": s.CharField(),
            "available": s.BooleanField(),
            "weight": s.IntegerField(),
            "max_open_mqls": s.IntegerField(allow_null=True),
            "territories": s.ListField(child=_territory()),
            "open_mqls": s.IntegerField(),
        },
        many=many,
    )


@_shared
def RepPatch(many: bool = False) -> Any:
    return inline_serializer(
        "RepPatch",
        {
            "available": s.BooleanField(required=False),
            "weight": s.IntegerField(required=False, min_value=1, max_value=100),
            "max_open_mqls": s.IntegerField(required=False, allow_null=True),
            "territories": s.ListField(child=_territory(), required=False),
        },
        many=many,
    )


@_shared
def Funnel(many: bool = False) -> Any:
    return inline_serializer(
        "Funnel",
        {
            "from": s.DateTimeField(allow_null=True),
            "to": s.DateTimeField(allow_null=True),
            "source": s.IntegerField(allow_null=True),
            "stages": inline_serializer(
                "FunnelStage",
                {
                    "stage": s.CharField(),
                    "reached": s.IntegerField(),
                    "next_stage": s.CharField(allow_null=True),
                    "converted": s.IntegerField(allow_null=True),
                    "conversion": s.FloatField(allow_null=True),
                    "median_hours_in_stage": s.FloatField(allow_null=True),
                },
                many=True,
            ),
            "outcomes": s.DictField(child=s.IntegerField()),
        },
        many=many,
    )


_reason_count = _shared(
    lambda many: inline_serializer(
        "ReasonCount", {"reason": s.CharField(), "count": s.IntegerField()}
    )
)


@_shared
def Rejections(many: bool = False) -> Any:
    return inline_serializer(
        "Rejections",
        {
            "from": s.DateTimeField(allow_null=True),
            "to": s.DateTimeField(allow_null=True),
            "source": s.IntegerField(allow_null=True),
            "total": s.IntegerField(),
            "reasons": _reason_count(many=True),
            "recycled_total": s.IntegerField(),
            "recycle_reasons": _reason_count(many=True),
        },
        many=many,
    )


@_shared
def WebhookBody(many: bool = False) -> Any:
    return inline_serializer(
        "WebhookBody",
        {
            "url": s.URLField(),
            "events": s.ListField(child=s.ChoiceField(choices=WEBHOOK_EVENTS), required=False),
            "active": s.BooleanField(required=False),
            "description": s.CharField(required=False),
            "rotate_secret": s.BooleanField(required=False),
        },
        many=many,
    )


@_shared
def WebhookRow(many: bool = False) -> Any:
    return inline_serializer(
        "Webhook",
        {
            "id": s.IntegerField(),
            "url": s.URLField(),
            "events": s.ListField(child=s.CharField()),
            "active": s.BooleanField(),
            "description": s.CharField(),
            "secret": s.CharField(help_text="whsec_ + base64; signs every delivery"),
            "created_at": s.DateTimeField(),
            "updated_at": s.DateTimeField(),
        },
        many=many,
    )


@_shared
def DeliveryRow(many: bool = False) -> Any:
    return inline_serializer(
        "WebhookDelivery",
        {
            "id": s.IntegerField(),
            "event_type": s.CharField(),
            "webhook_id": s.CharField(help_text="the webhook-id header, the same on every try"),
            "status": s.ChoiceField(choices=["pending", "delivered", "failed"]),
            "attempts": s.IntegerField(),
            "last_status_code": s.IntegerField(allow_null=True),
            "last_error": s.CharField(),
            "next_attempt_at": s.DateTimeField(allow_null=True),
            "created_at": s.DateTimeField(),
            "delivered_at": s.DateTimeField(allow_null=True),
            "payload": s.CharField(),
            "tries": inline_serializer(
                "WebhookTry",
                {
                    "number": s.IntegerField(),
                    "at": s.DateTimeField(),
                    "webhook_timestamp": s.IntegerField(),
                    "status_code": s.IntegerField(allow_null=True),
                    "error": s.CharField(),
                    "response_body": s.CharField(),
                    "duration_ms": s.IntegerField(),
                },
                many=True,
            ),
        },
        many=many,
    )
