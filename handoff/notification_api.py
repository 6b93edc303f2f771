"""Failed e-mail notifications API (admin): what did not go out, and sending it again."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mqlapp.leads.errors import InvalidInput
from mqlapp.leads.roles import AdminOnly

from . import notifications
from .serializers import FailedNotificationSerializer


class FailedNotificationsView(APIView):
    permission_classes = [AdminOnly]

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "status", str, enum=["retrying", "failed"], description="only these (default all)"
            )
        ],
        responses=FailedNotificationSerializer(many=True),
        description="Notifications that failed at least once and are not sent, newest first.",
    )
    def get(self, request: Request) -> Response:
        status = request.query_params.get("status")
        if status not in (None, "retrying", "failed"):
            raise InvalidInput(
                "status must be retrying or failed", fields={"status": ["retrying or failed"]}
            )
        rows = notifications.notifications_failing()
        if status:
            rows = [r for r in rows if r["status"] == status]
        return Response(FailedNotificationSerializer(rows, many=True).data)


class NotificationRetryView(APIView):
    permission_classes = [AdminOnly]

    @extend_schema(
        request=None,
        responses={202: FailedNotificationSerializer},
        description="Send a failed notification again: one try, now. 409 when it is not failed.",
    )
    def post(self, request: Request, kind: str, pk: int) -> Response:
        row = notifications.notification_retry(kind, pk)
        return Response(FailedNotificationSerializer(row).data, status=202)
