"""The lead API (SPEC §6): list, create, read and change leads, answered in the one lead
shape (`handoff.serializers.LeadSerializer`: profile, score and stage together)."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from handoff.models import LeadView
from handoff.serializers import LeadSerializer
from mqlapp.leads import services
from mqlapp.leads.api.filtering import FilterBackend
from mqlapp.leads.api.pagination import Pagination
from mqlapp.leads.api.serializers import LeadWriteSerializer
from mqlapp.leads.models import Lead
from mqlapp.leads.roles import ReadAnyWriteMarketer

from .filters import LeadFilter


class LeadListView(GenericAPIView[LeadView]):
    """Leads, filtered and ordered, a page at a time."""

    permission_classes = [ReadAnyWriteMarketer]
    queryset = LeadView.objects.all()
    serializer_class = LeadWriteSerializer  # what OPTIONS describes for POST
    filter_backends = [FilterBackend]
    filterset_class = LeadFilter
    pagination_class = Pagination

    @extend_schema(responses=LeadSerializer(many=True))
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(LeadSerializer(page, many=True).data)

    @extend_schema(request=LeadWriteSerializer, responses={201: LeadSerializer})
    def post(self, request: Request) -> Response:
        form = LeadWriteSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        lead = services.lead_create(data=form.validated_data)
        return Response(
            LeadSerializer(LeadView.objects.get(pk=lead.pk)).data, status=status.HTTP_201_CREATED
        )


class LeadDetailView(APIView):
    permission_classes = [ReadAnyWriteMarketer]

    @extend_schema(responses=LeadSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(LeadSerializer(get_object_or_404(LeadView, pk=pk)).data)

    @extend_schema(request=LeadWriteSerializer, responses=LeadSerializer)
    def patch(self, request: Request, pk: int) -> Response:
        lead = get_object_or_404(Lead, pk=pk)
        form = LeadWriteSerializer(data=request.data, partial=True)
        form.is_valid(raise_exception=True)
        services.lead_update(lead, data=form.validated_data)
        return Response(LeadSerializer(LeadView.objects.get(pk=pk)).data)
