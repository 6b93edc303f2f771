"""The one shape of a lead in answers and webhook bodies: its data (the core's), its score
(scoring's) and where it stands with sales (handoff's), read through `LeadView`."""

from rest_framework import serializers

from mqlapp.leads.models import PROFILE_FIELDS

from .models import LeadView

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
