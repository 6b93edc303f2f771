"""Scoring API: rules CRUD, a lead's score, breakdown and history, re-score progress."""

from typing import Any

from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mqlapp.leads.errors import InvalidInput, NotFound
from mqlapp.leads.models import Lead
from mqlapp.leads.parsing import limit_param, moment_param
from mqlapp.leads.roles import AnyRole, ReadAnyWriteMarketer

from . import selectors, services
from .models import ScoringRule
from .serializers import (
    LeadScoreSerializer,
    RescoreJobSerializer,
    RuleAnswerSerializer,
    RuleSerializer,
    ScorePointSerializer,
)

HISTORY_PARAMS = [
    OpenApiParameter("limit", int, description="the latest points (1-10000, default 1000)"),
    OpenApiParameter("since", str, description="ISO 8601 time with a zone"),
]


def _body(request: Request) -> dict[str, Any]:
    if not isinstance(request.data, dict):
        raise InvalidInput("The body must be a JSON object.")
    return dict(request.data)


def _rule_answer(rule: ScoringRule) -> dict[str, Any]:
    """The rule and the re-score job that applies the change (the latest one covers it)."""
    return RuleAnswerSerializer(rule, context={"rescore": selectors.rescore_job_latest()}).data


class RuleListView(APIView):
    permission_classes = [ReadAnyWriteMarketer]

    @extend_schema(responses=RuleSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(RuleSerializer(ScoringRule.objects.order_by("id"), many=True).data)

    @extend_schema(request=RuleSerializer, responses={201: RuleAnswerSerializer})
    def post(self, request: Request) -> Response:
        rule = services.rule_create(data=_body(request))
        return Response(_rule_answer(rule), status=status.HTTP_201_CREATED)


class RuleDetailView(APIView):
    permission_classes = [ReadAnyWriteMarketer]

    @extend_schema(responses=RuleSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(RuleSerializer(get_object_or_404(ScoringRule, pk=pk)).data)

    @extend_schema(request=RuleSerializer, responses=RuleAnswerSerializer)
    def patch(self, request: Request, pk: int) -> Response:
        rule = get_object_or_404(ScoringRule, pk=pk)
        return Response(_rule_answer(services.rule_update(rule, data=_body(request))))

    @extend_schema(request=RuleSerializer, responses=RuleAnswerSerializer)
    def put(self, request: Request, pk: int) -> Response:
        return self.patch(request, pk)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        services.rule_delete(get_object_or_404(ScoringRule, pk=pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class LeadScoreView(APIView):
    permission_classes = [AnyRole]

    @extend_schema(responses=LeadScoreSerializer)
    def get(self, request: Request, pk: int) -> Response:
        score = selectors.lead_score(pk)
        if score is None:
            raise Http404  # as get_object_or_404 answers
        return Response(LeadScoreSerializer(score).data)


class LeadScoreHistoryView(APIView):
    permission_classes = [AnyRole]

    @extend_schema(parameters=HISTORY_PARAMS, responses=ScorePointSerializer(many=True))
    def get(self, request: Request, pk: int) -> Response:
        lead = get_object_or_404(Lead, pk=pk)
        limit = limit_param(request.query_params.get("limit"), default=selectors.HISTORY_LIMIT)
        since = moment_param(request.query_params.get("since"), name="since", zone_required=True)
        points = selectors.lead_score_history(lead, since=since, limit=limit)
        return Response(ScorePointSerializer(points, many=True).data)


class RescoreLatestView(APIView):
    """The latest re-score job (what the last rule change started), or "idle" before any."""

    permission_classes = [AnyRole]

    @extend_schema(responses=RescoreJobSerializer, operation_id="scoring_rescore_latest")
    def get(self, request: Request) -> Response:
        return Response(RescoreJobSerializer(selectors.rescore_progress()).data)


class RescoreDetailView(APIView):
    permission_classes = [AnyRole]

    @extend_schema(responses=RescoreJobSerializer)
    def get(self, request: Request, pk: int) -> Response:
        job = selectors.rescore_job_get(pk)
        if job is None:
            raise NotFound(f"No re-score job {pk}.")
        return Response(RescoreJobSerializer(job).data)
