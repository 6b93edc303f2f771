"""Handoff API: the MQL policy, the sales queue, queue actions, history, reps, reports."""

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mqlapp.leads.errors import InvalidInput, NotFound
from mqlapp.leads.models import Lead
from mqlapp.leads.roles import AdminOnly, AnyRole, ReadAnyWriteAdmin, SalesOrAdmin

from . import assignment, reports, schema, selectors, services
from .lifecycle import QUEUE_ACTIONS
from .models import Assignment, LeadView, MqlPolicy, StageTransition
from .serializers import QueueItemSerializer, ReapproachItemSerializer


class PolicySerializer(serializers.ModelSerializer[MqlPolicy]):
    mql_threshold = serializers.FloatField()
    min_fit = serializers.FloatField(allow_null=True)
    sla_hours = serializers.FloatField()

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


def history_row(row: StageTransition) -> dict[str, Any]:
    return {
        "from": row.from_stage,
        "to": row.to_stage,
        "at": row.at.isoformat(),
        "by": row.by.username if row.by else None,
        "reason": row.reason,
        "note": row.note,
        "score": float(row.score),
        "cycle": row.cycle,
    }


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

    @extend_schema(request=schema.ActionBody(), responses=QueueItemSerializer)
    def post(self, request: Request, pk: int, action: str) -> Response:
        if action not in QUEUE_ACTIONS:
            raise NotFound(f"unknown action {action!r}; use one of {', '.join(QUEUE_ACTIONS)}")
        data = request.data if isinstance(request.data, dict) else {}
        services.queue_action(pk, action, user=request.user, data=data)  # type: ignore[arg-type]
        return Response(QueueItemSerializer(LeadView.objects.get(pk=pk)).data)


class LeadHistoryView(APIView):
    permission_classes = [AnyRole]

    @extend_schema(responses=schema.HistoryRow(many=True))
    def get(self, request: Request, pk: int) -> Response:
        lead = get_object_or_404(Lead, pk=pk)
        return Response([history_row(row) for row in selectors.lead_history(lead)])


def assignment_row(row: Assignment) -> dict[str, Any]:
    return {
        "user": row.user_id,
        "username": row.user.username,
        "at": row.at.isoformat(),
        "why": row.why,
        "by": row.by.username if row.by else None,
        "cycle": row.cycle,
        "notified_at": row.notified_at.isoformat() if row.notified_at else None,
    }


class LeadAssignmentsView(APIView):
    permission_classes = [AnyRole]

    @extend_schema(responses=schema.AssignmentRow(many=True))
    def get(self, request: Request, pk: int) -> Response:
        lead = get_object_or_404(Lead, pk=pk)
        return Response([assignment_row(row) for row in selectors.lead_assignments(lead)])


class ReapproachView(APIView):
    """Marketing's "re-approach" list: recycled leads back in nurturing."""

    permission_classes = [AnyRole]

    @extend_schema(responses=ReapproachItemSerializer(many=True))
    def get(self, request: Request) -> Response:
        rows = selectors.reapproach_list()[:500]
        return Response(ReapproachItemSerializer(rows, many=True).data)


class RepListView(APIView):
    permission_classes = [AdminOnly]

    @extend_schema(responses=schema.RepRow(many=True))
    def get(self, request: Request) -> Response:
        return Response(assignment.reps_overview())


class RepDetailView(APIView):
    permission_classes = [AdminOnly]

    @extend_schema(responses=schema.RepRow())
    def get(self, request: Request, pk: int) -> Response:
        row = next((r for r in assignment.reps_overview() if r["id"] == pk), None)
        if row is None:
            raise NotFound("No sales rep with that id.")
        return Response(row)

    @extend_schema(request=schema.RepPatch(), responses=schema.RepRow())
    def patch(self, request: Request, pk: int) -> Response:
        if not isinstance(request.data, dict):
            raise InvalidInput("The body must be a JSON object.")
        assignment.rep_update(pk, data=request.data)
        return self.get(request, pk)

    put = patch


class FunnelView(APIView):
    permission_classes = [AnyRole]

    @extend_schema(parameters=schema.REPORT_PARAMS, responses=schema.Funnel())
    def get(self, request: Request) -> Response:
        return Response(reports.funnel(reports.Period(request.query_params)))


class RejectionsView(APIView):
    permission_classes = [AnyRole]

    @extend_schema(parameters=schema.REPORT_PARAMS, responses=schema.Rejections())
    def get(self, request: Request) -> Response:
        return Response(reports.rejections(reports.Period(request.query_params)))
