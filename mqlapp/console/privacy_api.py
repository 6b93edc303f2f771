"""Privacy API (SPEC §6): export and erase a person's data; admins only."""

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mqlapp.leads import privacy as lead_privacy
from mqlapp.leads.api.serializers import ErasureOutcome, ErasureSerializer
from mqlapp.leads.roles import AdminOnly

from . import privacy
from .serializers import PersonalDataSerializer


class PersonalDataView(APIView):
    permission_classes = [AdminOnly]

    @extend_schema(
        summary="Everything held on the person behind a lead (JSON export)",
        responses=PersonalDataSerializer,
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(PersonalDataSerializer(privacy.lead_personal_data(pk)).data)


class EraseView(APIView):
    permission_classes = [AdminOnly]

    @extend_schema(
        summary="Erase the person's data; counts for reports stay. Again: 200, no change",
        request=None,
        responses={200: ErasureSerializer},
    )
    def post(self, request: Request, pk: int) -> Response:
        erasure, new = lead_privacy.lead_erase(pk, by=request.user)  # type: ignore[arg-type]
        return Response(ErasureSerializer(ErasureOutcome(erasure, already_erased=not new)).data)
