"""Privacy API (SPEC §6): export and erase a person's data; admins only."""

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers as s
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mqlapp.leads import privacy as lead_privacy
from mqlapp.leads.roles import AdminOnly

from . import privacy

ERASURE = inline_serializer(
    "Erasure",
    {
        "lead": s.IntegerField(),
        "at": s.DateTimeField(),
        "by": s.CharField(allow_null=True),
        "counts": s.DictField(child=s.IntegerField()),
        "already_erased": s.BooleanField(),
    },
)


class PersonalDataView(APIView):
    permission_classes = [AdminOnly]

    @extend_schema(
        summary="Everything held on the person behind a lead (JSON export)",
        responses={
            200: OpenApiResponse(
                description="lead, identities, events, consents, "
                "merges, score, stage_history, assignments, erased"
            )
        },
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(privacy.lead_personal_data(pk))


class EraseView(APIView):
    permission_classes = [AdminOnly]

    @extend_schema(
        summary="Erase the person's data; counts for reports stay. Again: 200, no change",
        request=None,
        responses={200: ERASURE},
    )
    def post(self, request: Request, pk: int) -> Response:
        erasure, new = lead_privacy.lead_erase(pk, by=request.user)  # type: ignore[arg-type]
        return Response({**lead_privacy.erasure_dict(erasure), "already_erased": not new})
