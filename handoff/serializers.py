"""The shapes of the handoff API's answers and bodies: each one renders the answer and, through
drf-spectacular, is its OpenAPI description.

The one shape of a lead (in answers and webhook bodies) is `LeadSerializer`: its data (the
core's), its score (scoring's) and where it stands with sales (handoff's), read through
`LeadView`."""

from typing import Any

from rest_framework import serializers

from mqlapp.leads.api.fields import KeywordNamesMixin, MomentField
from mqlapp.leads.models import PROFILE_FIELDS
from mqlapp.leads.parsing import INT_MAX

from .lifecycle import REASONS, WEBHOOK_EVENTS
from .models import (
    Assignment,
    LeadView,
    MqlPolicy,
    StageTransition,
    Webhook,
    WebhookAttempt,
    WebhookDelivery,
)

LEAD_FIELDS = (
    "id",
    "email",
    *PROFILE_FIELDS,
    "traits",
    "source",
    "stage",
    "owner",
    "score",
    "engagement",
    "fit",
    "mql_at",
    "last_activity_at",
    "created_at",
)


class LeadSerializer(serializers.ModelSerializer[LeadView]):
    stage = serializers.CharField(read_only=True)
    owner = serializers.IntegerField(source="owner_id", read_only=True, allow_null=True)
    score = serializers.FloatField(read_only=True)
    engagement = serializers.FloatField(read_only=True)
    fit = serializers.FloatField(read_only=True)
    mql_at = serializers.DateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = LeadView
        fields = LEAD_FIELDS
        read_only_fields = LEAD_FIELDS


class QueueItemSerializer(LeadSerializer):
    sla_due_at = serializers.DateTimeField(read_only=True, allow_null=True)
    overdue = serializers.BooleanField(read_only=True)

    class Meta(LeadSerializer.Meta):
        fields = (*LEAD_FIELDS, "sla_due_at", "overdue")  # type: ignore[assignment]
        read_only_fields = fields  # type: ignore[assignment]


class ReapproachItemSerializer(LeadSerializer):
    reapproach_on = serializers.DateField(read_only=True, allow_null=True)

    class Meta(LeadSerializer.Meta):
        fields = (*LEAD_FIELDS, "reapproach_on")  # type: ignore[assignment]
        read_only_fields = fields  # type: ignore[assignment]


# --- the MQL policy and queue actions ---------------------------------------------------------


class PolicySerializer(serializers.ModelSerializer[MqlPolicy]):
    """The MQL policy: when a lead qualifies, and how it is handed to sales."""

    # Also the body of a change, which `policy_update` checks.

    # the bounds of the columns (numeric(12,2), numeric(8,2)): larger is a 400
    mql_threshold = serializers.FloatField(min_value=-9_999_999_999.99, max_value=9_999_999_999.99)
    min_fit = serializers.FloatField(
        allow_null=True, min_value=-9_999_999_999.99, max_value=9_999_999_999.99
    )
    sla_hours = serializers.FloatField(min_value=0, max_value=999_999.99)

    class Meta:
        model = MqlPolicy
        fields = (
            "mql_threshold",
            "min_fit",
            "fast_track_events",
            "sla_hours",
            "assignment",
            "reassign_on_breach",
            "default_recycle_days",
            "updated_at",
        )


class QueueActionBodySerializer(serializers.Serializer[Any]):
    """What a queue action takes: reject and recycle need a reason, recycle a date."""

    # `queue_action` checks it, action by action.

    reason = serializers.ChoiceField(choices=REASONS, required=False)
    note = serializers.CharField(required=False)
    reapproach_on = serializers.DateField(required=False)
    owner = serializers.IntegerField(
        required=False, help_text="claim only, admins: give it to a rep"
    )


class StageChangeSerializer(KeywordNamesMixin, serializers.ModelSerializer[StageTransition]):
    """One stage change of a lead, with the score it had then."""

    from_ = serializers.CharField(source="from_stage")
    to = serializers.CharField(source="to_stage")
    at = MomentField()
    by = serializers.CharField(source="by.username", allow_null=True)
    reason = serializers.CharField()
    note = serializers.CharField()
    score = serializers.FloatField()
    cycle = serializers.IntegerField()

    class Meta:
        model = StageTransition
        fields = ("from_", "to", "at", "by", "reason", "note", "score", "cycle")


class AssignmentRowSerializer(serializers.ModelSerializer[Assignment]):
    """Who an MQL was given to, when, why and by whom."""

    user = serializers.IntegerField(source="user_id")
    username = serializers.CharField(source="user.username")
    at = MomentField()
    why = serializers.CharField()
    by = serializers.CharField(source="by.username", allow_null=True)
    cycle = serializers.IntegerField()
    notified_at = MomentField(allow_null=True)

    class Meta:
        model = Assignment
        fields = ("user", "username", "at", "why", "by", "cycle", "notified_at")


# --- sales reps (rows of `assignment.reps_overview`) -----------------------------------------


class TerritorySerializer(serializers.Serializer[Any]):
    countries = serializers.ListField(child=serializers.CharField())
    employees_min = serializers.IntegerField(allow_null=True)
    employees_max = serializers.IntegerField(allow_null=True)


class RepSerializer(serializers.Serializer[Any]):
    """A sales rep as assignment sees them: availability, weight, cap, territories."""

    id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.CharField()
    available = serializers.BooleanField()
    weight = serializers.IntegerField()
    max_open_mqls = serializers.IntegerField(allow_null=True)
    territories = TerritorySerializer(many=True)
    open_mqls = serializers.IntegerField()


class RepPatchSerializer(serializers.Serializer[Any]):
    """A change to a sales rep: any of these fields."""

    # `rep_update` checks it.

    available = serializers.BooleanField(required=False)
    weight = serializers.IntegerField(required=False, min_value=1, max_value=100)
    max_open_mqls = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=INT_MAX
    )
    territories = TerritorySerializer(many=True, required=False)


# --- reports (the dicts of `reports.funnel` and `reports.rejections`) --------------------------


class ReportPeriodSerializer(KeywordNamesMixin, serializers.Serializer[Any]):
    """The period and source a report covers ([from, to); null: open-ended, every source)."""

    from_ = MomentField(allow_null=True)
    to = MomentField(allow_null=True)
    source = serializers.IntegerField(allow_null=True)  # type: ignore[assignment]


class FunnelStageSerializer(serializers.Serializer[Any]):
    stage = serializers.CharField()
    reached = serializers.IntegerField()
    next_stage = serializers.CharField(allow_null=True)
    converted = serializers.IntegerField(allow_null=True)
    conversion = serializers.FloatField(allow_null=True)
    median_hours_in_stage = serializers.FloatField(allow_null=True)


class FunnelSerializer(ReportPeriodSerializer):
    """Per stage: leads that reached it in the period, how many moved on, time spent in it."""

    stages = FunnelStageSerializer(many=True)
    outcomes = serializers.DictField(child=serializers.IntegerField())


class ReasonCountSerializer(serializers.Serializer[Any]):
    reason = serializers.CharField()
    count = serializers.IntegerField()


class RejectionsSerializer(ReportPeriodSerializer):
    """Why sales sent leads back: reject reasons by count, and recycle reasons beside them."""

    total = serializers.IntegerField()
    reasons = ReasonCountSerializer(many=True)
    recycled_total = serializers.IntegerField()
    recycle_reasons = ReasonCountSerializer(many=True)


# --- webhooks ----------------------------------------------------------------------------------


class WebhookBodySerializer(serializers.Serializer[Any]):
    """A webhook to create (`url` required), or the fields to change."""

    # `webhook_create` and `webhook_update` check it.

    url = serializers.URLField()
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=WEBHOOK_EVENTS), required=False
    )
    active = serializers.BooleanField(required=False)
    description = serializers.CharField(required=False)
    rotate_secret = serializers.BooleanField(
        required=False, help_text="true: a new signing secret, shown in this answer only"
    )


class WebhookSerializer(serializers.ModelSerializer[Webhook]):
    """A webhook as every answer shows it: without its signing secret (shown once)."""

    id = serializers.IntegerField()
    url = serializers.URLField()
    events = serializers.ListField(child=serializers.CharField())
    active = serializers.BooleanField()
    disabled_reason = serializers.CharField(
        help_text="why the system turned it off (a 410 Gone answer); empty otherwise"
    )
    disabled_at = MomentField(allow_null=True)
    description = serializers.CharField()
    secret_rotated_at = MomentField(allow_null=True)
    created_at = MomentField()
    updated_at = MomentField()

    class Meta:
        model = Webhook
        fields = (
            "id",
            "url",
            "events",
            "active",
            "disabled_reason",
            "disabled_at",
            "description",
            "secret_rotated_at",
            "created_at",
            "updated_at",
        )


class WebhookSecretSerializer(WebhookSerializer):
    """The answer to a creation or a rotation: the only ones that carry the secret."""

    secret = serializers.CharField(
        help_text="whsec_ + base64; signs every delivery. Shown in this answer only: keep it."
    )

    class Meta(WebhookSerializer.Meta):
        fields = (*WebhookSerializer.Meta.fields, "secret")  # type: ignore[assignment]


class WebhookTrySerializer(serializers.ModelSerializer[WebhookAttempt]):
    number = serializers.IntegerField()
    at = MomentField()
    webhook_timestamp = serializers.IntegerField()
    status_code = serializers.IntegerField(allow_null=True)
    error = serializers.CharField()
    response_body = serializers.CharField()
    duration_ms = serializers.IntegerField()

    class Meta:
        model = WebhookAttempt
        fields = (
            "number",
            "at",
            "webhook_timestamp",
            "status_code",
            "error",
            "response_body",
            "duration_ms",
        )


class WebhookDeliverySerializer(serializers.ModelSerializer[WebhookDelivery]):
    """One message to a webhook and every try to deliver it."""

    id = serializers.IntegerField()
    event_type = serializers.CharField()
    webhook_id = serializers.CharField(
        source="msg_id", help_text="the webhook-id header, the same on every try"
    )
    status = serializers.ChoiceField(choices=WebhookDelivery.Status.choices)
    attempts = serializers.IntegerField()
    resends = serializers.IntegerField(help_text="times an admin sent it again after it failed")
    last_status_code = serializers.IntegerField(allow_null=True)
    last_error = serializers.CharField()
    next_attempt_at = MomentField(allow_null=True)
    created_at = MomentField()
    delivered_at = MomentField(allow_null=True)
    payload = serializers.CharField()
    tries = WebhookTrySerializer(many=True)

    class Meta:
        model = WebhookDelivery
        fields = (
            "id",
            "event_type",
            "webhook_id",
            "status",
            "attempts",
            "resends",
            "last_status_code",
            "last_error",
            "next_attempt_at",
            "created_at",
            "delivered_at",
            "payload",
            "tries",
        )


class FailedNotificationSerializer(serializers.Serializer[Any]):
    """An e-mail notification that failed at least once and is not sent."""

    # a plain string: an enum named after "kind" would clash with the scoring rules' kinds
    kind = serializers.CharField(
        help_text='"assignment" (to the rep of an MQL) or "sla_breach" (to the admins)'
    )
    id = serializers.IntegerField()
    lead = serializers.IntegerField()
    lead_email = serializers.CharField()
    to = serializers.CharField(help_text="the recipients, comma-separated")
    status = serializers.ChoiceField(
        choices=["retrying", "failed", "sent"],
        help_text="retrying: tried again by itself at next_try_at (none: a try is on its way, "
        "as after an admin's retry); failed: given up, an admin may retry it; sent: gone out",
    )
    attempts = serializers.IntegerField()
    error = serializers.CharField(help_text="the last try's error")
    at = MomentField()
    next_try_at = MomentField(allow_null=True)
    failed_at = MomentField(allow_null=True)
