"""Handoff API: the MQL policy, the sales queue, queue actions, history, reps, reports."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mqlapp.leads.errors import InvalidInput, NotFound
from mqlapp.leads.models import Lead
from mqlapp.leads.roles import AdminOnly, AnyRole, ReadAnyWriteAdmin, SalesOrAdmin

from . import assignment, reports, selectors, services
from .lifecycle import QUEUE_ACTIONS
from .models import LeadView
from .serializers import (
    AssignmentRowSerializer,
    FunnelSerializer,
    PolicySerializer,
    QueueActionBodySerializer,
    QueueItemSerializer,
    ReapproachItemSerializer,
    RejectionsSerializer,
    RepPatchSerializer,
    RepSerializer,
    StageChangeSerializer,
)

REPORT_PARAMS = [
    OpenApiParameter("from", str, description="YYYY-MM-DD (local day) or ISO date-time"),
    OpenApiParameter("to", str, description="YYYY-MM-DD (inclusive) or ISO date-time"),
    OpenApiParameter("source", int, description="a source id"),
]


class PolicyView(APIView):
    permission_classes = [ReadAnyWriteAdmin]

    @extend_schema(responses=PolicySerializer)
    def get(self, request: Request) -> Response:
        return Response(PolicySerializer(services.policy_get()).data)

    @extend_schema(request=PolicySerializer, responses=PolicySerializer)
    def put(self, request: Request) -> Response:
        if not isinstance(request.data, dict):
            raise InvalidInput("The body must be a JSON object.")
        return Response(PolicySerializer(services.policy_update(data=request.data)).data)

    patch = put


class QueueView(APIView):
    permission_classes = [SalesOrAdmin]

    @extend_schema(responses=QueueItemSerializer(many=True))
    def get(self, request: Request) -> Response:
        rows = selectors.queue_for(request.user)  # type: ignore[arg-type]
        return Response(QueueItemSerializer(rows[:500], many=True).data)


class LeadActionView(APIView):
    permission_classes = [SalesOrAdmin]

    @extend_schema(
        request=QueueActionBodySerializer,
        responses=QueueItemSerializer,
        parameters=[OpenApiParameter("action", str, OpenApiParameter.PATH, enum=QUEUE_ACTIONS)],
        extensions={"x-errors": ["409"]},
    )
    def post(self, request: Request, pk: int, action: str) -> Response:
        if action not in QUEUE_ACTIONS:
            raise NotFound(f"unknown action {action!r}; use one of {', '.join(QUEUE_ACTIONS)}")
        data = request.data if isinstance(request.data, dict) else {}
        services.queue_action(pk, action, user=request.user, data=data)  # type: ignore[arg-type]
        return Response(QueueItemSerializer(LeadView.objects.get(pk=pk)).data)


class LeadHistoryView(APIView):
    permission_classes = [AnyRole]

    @extend_schema(responses=StageChangeSerializer(many=True))
    def get(self, request: Request, pk: int) -> Response:
        lead = get_object_or_404(Lead, pk=pk)
        return Response(StageChangeSerializer(selectors.lead_history(lead), many=True).data)


class LeadAssignmentsView(APIView):
    permission_classes = [AnyRole]

    @extend_schema(responses=AssignmentRowSerializer(many=True))
    def get(self, request: Request, pk: int) -> Response:
        lead = get_object_or_404(Lead, pk=pk)
        rows = selectors.lead_assignments(lead)
        return Response(AssignmentRowSerializer(rows, many=True).data)


class ReapproachView(APIView):
    """Marketing's "re-approach" list: recycled leads back in nurturing."""

    permission_classes = [AnyRole]

    @extend_schema(responses=ReapproachItemSerializer(many=True))
    def get(self, request: Request) -> Response:
        rows = selectors.reapproach_list()[:500]
        return Response(ReapproachItemSerializer(rows, many=True).data)


class RepListView(APIView):
    permission_classes = [AdminOnly]

    @extend_schema(responses=RepSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(RepSerializer(assignment.reps_overview(), many=True).data)


class RepDetailView(APIView):
    permission_classes = [AdminOnly]

    @extend_schema(responses=RepSerializer)
    def get(self, request: Request, pk: int) -> Response:
        row = next((r for r in assignment.reps_overview() if r["id"] == pk), None)
        if row is None:
            raise NotFound("No sales rep with that id.")
        return Response(RepSerializer(row).data)

    @extend_schema(request=RepPatchSerializer, responses=RepSerializer)
    def patch(self, request: Request, pk: int) -> Response:
        if not isinstance(request.data, dict):
            raise InvalidInput("The body must be a JSON object.")
        assignment.rep_update(pk, data=request.data)
        return self.get(request, pk)

    put = patch


class FunnelView(APIView):
    permission_classes = [AnyRole]

    @extend_schema(parameters=REPORT_PARAMS, responses=FunnelSerializer)
    def get(self, request: Request) -> Response:
        report = reports.funnel(reports.Period(request.query_params))
        return Response(FunnelSerializer(report).data)


class RejectionsView(APIView):
    permission_classes = [AnyRole]

    @extend_schema(parameters=REPORT_PARAMS, responses=RejectionsSerializer)
    def get(self, request: Request) -> Response:
        report = reports.rejections(reports.Period(request.query_params))
        return Response(RejectionsSerializer(report).data)
