"""Ingestion API: landing-page forms, email tracking links, CSV imports and their progress."""

import json
from typing import Any

from django.conf import settings
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ..errors import InvalidInput
from ..ingest import forms, imports, tracking
from ..ingest.uploads import upload_refused, upload_too_large
from ..models import Form, ImportJob, Source
from ..roles import ReadAnyWriteMarketer
from .ingest_serializers import (
    FormSerializer,
    FormWriteSerializer,
    ImportSerializer,
    LeadImportUploadSerializer,
    TrackingLinkSerializer,
    TrackingLinksSerializer,
)


class FormListView(APIView):
    permission_classes = [ReadAnyWriteMarketer]

    @extend_schema(responses=FormSerializer(many=True), operation_id="forms_list")
    def get(self, request: Request) -> Response:
        return Response(FormSerializer(Form.objects.order_by("id"), many=True).data)

    @extend_schema(request=FormWriteSerializer, responses={201: FormSerializer})
    def post(self, request: Request) -> Response:
        data = FormWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        form = forms.form_create(data=data.validated_data, user=request.user)  # type: ignore[arg-type]
        return Response(FormSerializer(form).data, status=status.HTTP_201_CREATED)


class FormDetailView(APIView):
    permission_classes = [ReadAnyWriteMarketer]

    @extend_schema(responses=FormSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(FormSerializer(get_object_or_404(Form, pk=pk)).data)

    @extend_schema(request=FormWriteSerializer, responses=FormSerializer)
    def patch(self, request: Request, pk: int) -> Response:
        form = get_object_or_404(Form, pk=pk)
        data = FormWriteSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        return Response(FormSerializer(forms.form_update(form, data=data.validated_data)).data)


class TrackingLinkView(APIView):
    """POST {"email", "campaign", "url"?} → {"open_url", "click_url"} (signed, no expiry)."""

    permission_classes = [ReadAnyWriteMarketer]

    @extend_schema(request=TrackingLinkSerializer, responses={201: TrackingLinksSerializer})
    def post(self, request: Request) -> Response:
        data = TrackingLinkSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        links = tracking.tracking_links_create(**data.validated_data)
        return Response(TrackingLinksSerializer(links).data, status=status.HTTP_201_CREATED)


def _mapping(value: Any) -> dict[str, str] | None:
    if value in (None, ""):
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise InvalidInput("mapping must be JSON", fields={"mapping": ["not JSON"]}) from exc
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise InvalidInput(
            'mapping must be {"column name": "field"}', fields={"mapping": ["not an object"]}
        )
    return value


class LeadImportView(APIView):
    """POST multipart `file` (+ `mapping` JSON, `source` id) → 202 with the queued job."""

    permission_classes = [ReadAnyWriteMarketer]
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    @extend_schema(
        request={"multipart/form-data": LeadImportUploadSerializer},
        responses={202: ImportSerializer, 413: OpenApiTypes.OBJECT},
    )
    def post(self, request: Request) -> Response:
        http = request._request  # noqa: SLF001 (DRF's documented way to the Django request)
        if upload_refused(http):  # declared longer than any allowed upload: not read at all
            raise upload_too_large()
        upload = request.FILES.get("file")
        if upload_refused(http) or (upload and upload.size > settings.IMPORT_MAX_BYTES):
            raise upload_too_large()
        if upload is None:
            raise InvalidInput(
                "Send the CSV file as multipart field 'file'.", fields={"file": ["required"]}
            )
        source = None
        source_id = str(request.data.get("source") or "")
        if source_id:
            if not source_id.isdigit():
                raise InvalidInput("source must be a source id", fields={"source": [source_id]})
            source = get_object_or_404(Source, pk=int(source_id))
        job = imports.lead_import_create(
            filename=upload.name or "",
            data=upload.read(),
            mapping=_mapping(request.data.get("mapping")),
            source=source,
            user=request.user,  # type: ignore[arg-type]
        )
        return Response(ImportSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class ImportListView(APIView):
    permission_classes = [ReadAnyWriteMarketer]

    @extend_schema(responses=ImportSerializer(many=True), operation_id="imports_list")
    def get(self, request: Request) -> Response:
        jobs = ImportJob.objects.defer("data").order_by("-id")[:100]
        return Response(ImportSerializer(jobs, many=True).data)


class ImportDetailView(APIView):
    permission_classes = [ReadAnyWriteMarketer]

    @extend_schema(responses=ImportSerializer)
    def get(self, request: Request, pk: int) -> Response:
        job = get_object_or_404(ImportJob.objects.defer("data"), pk=pk)
        return Response(ImportSerializer(job).data)
