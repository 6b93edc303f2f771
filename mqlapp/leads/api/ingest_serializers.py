"""Shapes of the ingestion API: forms, tracking links, import jobs."""

from typing import Any

from django.conf import settings
from django.urls import reverse
from rest_framework import serializers

from ..models import Form, ImportJob, Source

MAX_ERRORS_SHOWN = 1000


class FormSerializer(serializers.ModelSerializer[Form]):
    post_url = serializers.SerializerMethodField()

    class Meta:
        model = Form
        fields = (
            "id",
            "name",
            "slug",
            "post_url",
            "thank_you_url",
            "consent_text",
            "consent_version",
            "required_fields",
            "source",
            "active",
            "created_at",
            "updated_at",
        )

    def get_post_url(self, form: Form) -> str:
        return str(settings.APP_BASE_URL).rstrip("/") + reverse("form-post", args=[form.slug])


class FormWriteSerializer(serializers.Serializer[Any]):
    """The fields a marketer sets; the consent version moves by itself when the text changes."""

    name = serializers.CharField(max_length=200)
    slug = serializers.SlugField(max_length=100, required=False)
    thank_you_url = serializers.URLField(max_length=500, required=False, allow_blank=True)
    consent_text = serializers.CharField(required=False, allow_blank=True, trim_whitespace=True)
    required_fields = serializers.ListField(child=serializers.CharField(), required=False)
    source = serializers.PrimaryKeyRelatedField(  # type: ignore[assignment]
        queryset=Source.objects.all(), required=False, allow_null=True
    )
    active = serializers.BooleanField(required=False)


class TrackingLinkSerializer(serializers.Serializer[Any]):
    email = serializers.CharField(max_length=254)
    campaign = serializers.CharField(max_length=200)
    url = serializers.CharField(max_length=2000, required=False, allow_blank=True, allow_null=True)


class ImportSerializer(serializers.ModelSerializer[ImportJob]):
    errors = serializers.SerializerMethodField()  # type: ignore[assignment]
    error_count = serializers.SerializerMethodField()

    class Meta:
        model = ImportJob
        fields = (
            "id",
            "status",
            "total",
            "processed",
            "created",
            "updated",
            "errors",
            "error_count",
            "error",
            "filename",
            "encoding",
            "mapping",
            "source",
            "created_at",
            "started_at",
            "finished_at",
        )

    def get_errors(self, job: ImportJob) -> list[dict[str, Any]]:
        rows = job.row_errors.order_by("row")[:MAX_ERRORS_SHOWN]
        return [{"row": e.row, "error": e.error} for e in rows]

    def get_error_count(self, job: ImportJob) -> int:
        return job.row_errors.count()
