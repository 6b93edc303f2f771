"""Webhooks API (admin): endpoints with their signing secret, and each one's delivery log."""

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mqlapp.leads.errors import InvalidInput
from mqlapp.leads.roles import AdminOnly

from . import schema, selectors, webhooks
from .models import Webhook, WebhookDelivery


def webhook_row(hook: Webhook) -> dict[str, Any]:
    return {
        "id": hook.pk,
        "url": hook.url,
        "events": hook.events,
        "active": hook.active,
        "description": hook.description,
        "secret": hook.secret,
        "created_at": hook.created_at.isoformat(),
        "updated_at": hook.updated_at.isoformat(),
    }


def delivery_row(row: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": row.pk,
        "event_type": row.event_type,
        "webhook_id": row.msg_id,
        "status": row.status,
        "attempts": row.attempts,
        "last_status_code": row.last_status_code,
        "last_error": row.last_error,
        "next_attempt_at": row.next_attempt_at.isoformat() if row.next_attempt_at else None,
        "created_at": row.created_at.isoformat(),
        "delivered_at": row.delivered_at.isoformat() if row.delivered_at else None,
        "payload": row.payload,
        "tries": [
            {
                "number": t.number,
                "at": t.at.isoformat(),
                "webhook_timestamp": t.webhook_timestamp,
                "status_code": t.status_code,
                "error": t.error,
                "response_body": t.response_body,
                "duration_ms": t.duration_ms,
            }
            for t in row.tries.all()
        ],
    }


def _body(request: Request) -> dict[str, Any]:
    if not isinstance(request.data, dict):
        raise InvalidInput("The body must be a JSON object.")
    return request.data


class WebhookListView(APIView):
    permission_classes = [AdminOnly]

    @extend_schema(responses=schema.WebhookRow(many=True))
    def get(self, request: Request) -> Response:
        return Response([webhook_row(h) for h in selectors.webhooks_all()])

    @extend_schema(request=schema.WebhookBody(), responses={201: schema.WebhookRow()})
    def post(self, request: Request) -> Response:
        return Response(webhook_row(webhooks.webhook_create(data=_body(request))), status=201)


class WebhookDetailView(APIView):
    permission_classes = [AdminOnly]

    @extend_schema(responses=schema.WebhookRow())
    def get(self, request: Request, pk: int) -> Response:
        return Response(webhook_row(get_object_or_404(Webhook, pk=pk)))

    @extend_schema(request=schema.WebhookBody(), responses=schema.WebhookRow())
    def patch(self, request: Request, pk: int) -> Response:
        hook = get_object_or_404(Webhook, pk=pk)
        return Response(webhook_row(webhooks.webhook_update(hook, data=_body(request))))

    put = patch

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        webhooks.webhook_delete(get_object_or_404(Webhook, pk=pk))
        return Response(status=204)


class WebhookDeliveriesView(APIView):
    permission_classes = [AdminOnly]

    @extend_schema(responses=schema.DeliveryRow(many=True))
    def get(self, request: Request, pk: int) -> Response:
        hook = get_object_or_404(Webhook, pk=pk)
        try:
            limit = min(max(int(request.query_params.get("limit", 100)), 1), 1000)
        except ValueError as exc:
            raise InvalidInput(
                "limit must be a number", fields={"limit": ["not a number"]}
            ) from exc
        return Response([delivery_row(d) for d in selectors.webhook_deliveries(hook)[:limit]])
