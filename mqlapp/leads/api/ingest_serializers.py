"""Shapes of the ingestion API: forms, tracking links, import jobs."""

from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils.text import slugify
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ..models import Form, ImportJob, ImportRowError, Source

MAX_ERRORS_SHOWN = 1000
SLUG_MAX = Form._meta.get_field("slug").max_length or 100


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
    slug = serializers.SlugField(max_length=SLUG_MAX, required=False)
    thank_you_url = serializers.URLField(max_length=500, required=False, allow_blank=True)
    consent_text = serializers.CharField(required=False, allow_blank=True, trim_whitespace=True)
    required_fields = serializers.ListField(child=serializers.CharField(), required=False)
    source = serializers.PrimaryKeyRelatedField(  # type: ignore[assignment]
        queryset=Source.objects.all(), required=False, allow_null=True
    )
    active = serializers.BooleanField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # On create without a slug, the slug is made from the name: it must fit the column too.
        made = not self.partial and "slug" not in attrs
        if made and len(slugify(attrs.get("name") or "")) > SLUG_MAX:
            raise serializers.ValidationError(
                {"slug": [f"the name makes a slug longer than {SLUG_MAX}; give a slug"]}
            )
        return attrs


class TrackingLinkSerializer(serializers.Serializer[Any]):
    email = serializers.CharField(max_length=254)
    campaign = serializers.CharField(max_length=200)
    url = serializers.CharField(max_length=2000, required=False, allow_blank=True, allow_null=True)


class TrackingLinksSerializer(serializers.Serializer[Any]):
    """Signed links for one recipient of one campaign (no expiry)."""

    open_url = serializers.URLField()
    click_url = serializers.URLField(allow_null=True)
    token = serializers.CharField()


class LeadImportUploadSerializer(serializers.Serializer[Any]):
    """The multipart body of a CSV import."""

    file = serializers.FileField()
    mapping = serializers.JSONField(required=False, help_text='{"column name": "field"}')
    source = serializers.IntegerField(  # type: ignore[assignment]
        required=False, help_text="a source id"
    )


class ImportRowErrorSerializer(serializers.ModelSerializer[ImportRowError]):
    class Meta:
        model = ImportRowError
        fields = ("row", "error")


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

    @extend_schema_field(ImportRowErrorSerializer(many=True))
    def get_errors(self, job: ImportJob) -> list[dict[str, Any]]:
        """The first rows that were not taken (all of them: `error_count`)."""
        rows = job.row_errors.order_by("row")[:MAX_ERRORS_SHOWN]
        return ImportRowErrorSerializer(rows, many=True).data  # type: ignore[return-value]

    def get_error_count(self, job: ImportJob) -> int:
        return job.row_errors.count()
