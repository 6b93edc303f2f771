"""Webhooks API (admin): endpoints (the signing secret shown once, at creation and at rotation),
each one's delivery log, and sending a failed delivery again."""

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mqlapp.leads.errors import InvalidInput
from mqlapp.leads.parsing import limit_param
from mqlapp.leads.roles import AdminOnly

from . import selectors, webhooks
from .models import Webhook
from .serializers import (
    WebhookBodySerializer,
    WebhookDeliverySerializer,
    WebhookSecretSerializer,
    WebhookSerializer,
)


def _body(request: Request) -> dict[str, Any]:
    if not isinstance(request.data, dict):
        raise InvalidInput("The body must be a JSON object.")
    return request.data


class WebhookListView(APIView):
    permission_classes = [AdminOnly]

    @extend_schema(responses=WebhookSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(WebhookSerializer(selectors.webhooks_all(), many=True).data)

    @extend_schema(request=WebhookBodySerializer, responses={201: WebhookSecretSerializer})
    def post(self, request: Request) -> Response:
        hook = webhooks.webhook_create(data=_body(request))
        return Response(WebhookSecretSerializer(hook).data, status=201)


class WebhookDetailView(APIView):
    permission_classes = [AdminOnly]

    @extend_schema(responses=WebhookSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(WebhookSerializer(get_object_or_404(Webhook, pk=pk)).data)

    @extend_schema(
        request=WebhookBodySerializer,
        responses=WebhookSerializer,
        description="With rotate_secret: true the answer carries the new secret, once.",
    )
    def patch(self, request: Request, pk: int) -> Response:
        hook = get_object_or_404(Webhook, pk=pk)
        data = _body(request)
        hook = webhooks.webhook_update(hook, data=data)
        shape = WebhookSecretSerializer if data.get("rotate_secret") is True else WebhookSerializer
        return Response(shape(hook).data)

    put = patch

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        webhooks.webhook_delete(get_object_or_404(Webhook, pk=pk))
        return Response(status=204)


class WebhookDeliveriesView(APIView):
    permission_classes = [AdminOnly]

    @extend_schema(
        parameters=[OpenApiParameter("limit", int, description="the latest (1-1000, default 100)")],
        responses=WebhookDeliverySerializer(many=True),
    )
    def get(self, request: Request, pk: int) -> Response:
        hook = get_object_or_404(Webhook, pk=pk)
        limit = limit_param(request.query_params.get("limit"), default=100, high=1000)
        rows = selectors.webhook_deliveries(hook)[:limit]
        return Response(WebhookDeliverySerializer(rows, many=True).data)


class WebhookRotateView(APIView):
    permission_classes = [AdminOnly]

    @extend_schema(
        request=None,
        responses=WebhookSecretSerializer,
        description="A new signing secret, in this answer only; the old one signs nothing more.",
    )
    def post(self, request: Request, pk: int) -> Response:
        hook = webhooks.webhook_rotate(get_object_or_404(Webhook, pk=pk))
        return Response(WebhookSecretSerializer(hook).data)


class WebhookTestView(APIView):
    permission_classes = [AdminOnly]

    @extend_schema(
        request=None,
        responses={202: WebhookDeliverySerializer},
        description="Send a `webhook.test` message to the endpoint now, signed like every "
        "delivery; it appears in the delivery log with the receiver's answer. 409 when the "
        "webhook is disabled.",
    )
    def post(self, request: Request, pk: int) -> Response:
        delivery = webhooks.webhook_send_test(get_object_or_404(Webhook, pk=pk))
        return Response(WebhookDeliverySerializer(delivery).data, status=202)


class WebhookDeliveryResendView(APIView):
    permission_classes = [AdminOnly]

    @extend_schema(
        request=None,
        responses={202: WebhookDeliverySerializer},
        description="Send a failed delivery again (same webhook-id): one try, now. 409 when "
        "the delivery is not failed or the webhook is disabled.",
    )
    def post(self, request: Request, pk: int, delivery_id: int) -> Response:
        hook = get_object_or_404(Webhook, pk=pk)
        delivery = webhooks.webhook_delivery_resend(hook, delivery_id)
        row = selectors.webhook_deliveries(hook).get(pk=delivery.pk)
        return Response(WebhookDeliverySerializer(row).data, status=202)
