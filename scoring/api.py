"""Scoring API: rules CRUD and a lead's score with its breakdown."""

from typing import Any

from django.shortcuts import get_object_or_404
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mqlapp.models import Lead
from mqlapp.roles import ReadAnyWriteMarketer

from . import selectors, services
from .models import ScoringRule


class RuleSerializer(serializers.ModelSerializer[ScoringRule]):
    points = serializers.FloatField()
    window_days = serializers.FloatField(allow_null=True)
    half_life_days = serializers.FloatField(allow_null=True)
    expire_after_days = serializers.FloatField(allow_null=True)
    inactive_days = serializers.FloatField(allow_null=True)

    class Meta:
        model = ScoringRule
        fields = (
            "id",
            "name",
            "kind",
            "event",
            "conditions",
            "points",
            "max_times",
            "window_days",
            "half_life_days",
            "expire_after_days",
            "after_event",
            "watch_events",
            "inactive_days",
            "active",
            "created_at",
            "updated_at",
        )


def _body(request: Request) -> dict[str, Any]:
    data = request.data
    if not isinstance(data, dict):
        from mqlapp.errors import InvalidInput

        raise InvalidInput("The body must be a JSON object.")
    return dict(data)


class RuleListView(APIView):
    permission_classes = [ReadAnyWriteMarketer]

    def get(self, request: Request) -> Response:
        return Response(RuleSerializer(ScoringRule.objects.order_by("id"), many=True).data)

    def post(self, request: Request) -> Response:
        rule = services.rule_create(data=_body(request))
        return Response(RuleSerializer(rule).data, status=status.HTTP_201_CREATED)


class RuleDetailView(APIView):
    permission_classes = [ReadAnyWriteMarketer]

    def get(self, request: Request, pk: int) -> Response:
        return Response(RuleSerializer(get_object_or_404(ScoringRule, pk=pk)).data)

    def patch(self, request: Request, pk: int) -> Response:
        rule = get_object_or_404(ScoringRule, pk=pk)
        return Response(RuleSerializer(services.rule_update(rule, data=_body(request))).data)

    def put(self, request: Request, pk: int) -> Response:
        return self.patch(request, pk)

    def delete(self, request: Request, pk: int) -> Response:
        services.rule_delete(get_object_or_404(ScoringRule, pk=pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class LeadScoreView(APIView):
    permission_classes = [ReadAnyWriteMarketer]

    def get(self, request: Request, pk: int) -> Response:
        return Response(selectors.lead_score(get_object_or_404(Lead, pk=pk)))
