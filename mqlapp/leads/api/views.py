"""Core API views: parse input, call one service or selector, shape the answer."""

from typing import Any

from django.contrib.auth import authenticate
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.authtoken.models import Token
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import selectors, services
from ..errors import InvalidInput
from ..ingest.merge import lead_merge_undo
from ..models import Lead, Source, User
from ..parsing import limit_param
from ..roles import AdminOnly, ReadAnyWriteMarketer
from .serializers import (
    EventSerializer,
    LeadMergeSerializer,
    SourceSerializer,
    TokenAnswerSerializer,
    TokenRequestSerializer,
    UserCreateSerializer,
    UserSerializer,
    UserUpdateSerializer,
)


class TokenView(APIView):
    """POST {"username", "password"} → {"token"}; repeated failures are throttled (429)."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema(
        request=TokenRequestSerializer,
        responses=TokenAnswerSerializer,
        extensions={"x-errors": ["429"]},
    )
    def post(self, request: Request) -> Response:
        data = request.data if isinstance(request.data, dict) else {}  # a list, a number: 400
        username, password = data.get("username"), data.get("password")
        if not isinstance(username, str) or not isinstance(password, str):
            raise InvalidInput(
                "username and password are required",
                fields={"username": ["required"], "password": ["required"]},
            )
        if "\x00" in username or "\x00" in password:  # no account has one; the database refuses
            raise InvalidInput(
                "username and password may not contain NUL characters",
                fields={"username": ["no NUL"], "password": ["no NUL"]},
            )
        # django-axes counts the failures of this username from this address; once locked,
        # authenticate() refuses and its middleware answers 429 (console.views.lockout_response).
        http = request._request  # noqa: SLF001 (DRF's documented way to the Django request)
        user = authenticate(http, username=username, password=password)
        if user is None:
            return Response(
                {"error": "wrong username or password", "code": "invalid_login"},
                status=status.HTTP_400_BAD_REQUEST,
            )
        token, _ = Token.objects.get_or_create(user=user)
        return Response(TokenAnswerSerializer(token).data)


class UserListView(APIView):
    permission_classes = [AdminOnly]

    @extend_schema(responses=UserSerializer(many=True))
    def get(self, request: Request) -> Response:
        users = User.objects.order_by("id").prefetch_related("groups")
        return Response(UserSerializer(users, many=True).data)

    @extend_schema(request=UserCreateSerializer, responses={201: UserSerializer})
    def post(self, request: Request) -> Response:
        form = UserCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        user = services.user_create(**form.validated_data)
        return Response(UserSerializer(user).data, status=status.HTTP_201_CREATED)


class UserDetailView(APIView):
    permission_classes = [AdminOnly]

    @extend_schema(responses=UserSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(UserSerializer(get_object_or_404(User, pk=pk)).data)

    @extend_schema(request=UserUpdateSerializer, responses=UserSerializer)
    def patch(self, request: Request, pk: int) -> Response:
        user = get_object_or_404(User, pk=pk)
        form = UserUpdateSerializer(data=request.data, partial=True)
        form.is_valid(raise_exception=True)
        return Response(UserSerializer(services.user_update(user, data=form.validated_data)).data)


class SourceListView(APIView):
    permission_classes = [AdminOnly]

    @extend_schema(responses=SourceSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(SourceSerializer(Source.objects.order_by("id"), many=True).data)

    @extend_schema(request=SourceSerializer, responses={201: SourceSerializer})
    def post(self, request: Request) -> Response:
        form = SourceSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        source = services.source_create(
            name=form.validated_data["name"],
            allowed_origins=form.validated_data.get("allowed_origins", []),
            kind=form.validated_data.get("kind"),
        )
        return Response(SourceSerializer(source).data, status=status.HTTP_201_CREATED)


class SourceDetailView(APIView):
    """One source: read, or change its name, allowed origins, active and kind (admin)."""

    permission_classes = [AdminOnly]

    @extend_schema(responses=SourceSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(SourceSerializer(get_object_or_404(Source, pk=pk)).data)

    @extend_schema(request=SourceSerializer, responses=SourceSerializer)
    def patch(self, request: Request, pk: int) -> Response:
        source = get_object_or_404(Source, pk=pk)
        form = SourceSerializer(source, data=request.data, partial=True)
        form.is_valid(raise_exception=True)
        source = services.source_update(source, data=form.validated_data)
        return Response(SourceSerializer(source).data)


class SourceRotateView(APIView):
    """A new write key for the source; the old one is refused (401) from now on (admin)."""

    permission_classes = [AdminOnly]

    @extend_schema(request=None, responses=SourceSerializer)
    def post(self, request: Request, pk: int) -> Response:
        source = get_object_or_404(Source, pk=pk)
        return Response(SourceSerializer(services.source_rotate(source)).data)


ID_DIGITS = 18  # a bigint's ids


class MergeListView(APIView):
    """Merges of two leads, newest first (admin); `?lead=<id>`: those into or of that lead."""

    permission_classes = [AdminOnly]

    @extend_schema(
        parameters=[OpenApiParameter("lead", int)], responses=LeadMergeSerializer(many=True)
    )
    def get(self, request: Request) -> Response:
        lead = request.query_params.get("lead") or ""
        if lead and not (lead.isascii() and lead.isdigit() and len(lead) <= ID_DIGITS):
            raise InvalidInput("lead must be a lead id", fields={"lead": [lead[:40]]})
        lead_id = int(lead) if lead else None
        merges = selectors.merges_list(lead_id=lead_id)[:500]
        return Response(LeadMergeSerializer(merges, many=True).data)


class MergeUndoView(APIView):
    """Undo a merge (admin): the merged-away lead comes back with its own data, events, ids,
    consents and sales history; both leads are re-scored. 409 when it cannot be undone."""

    permission_classes = [AdminOnly]

    @extend_schema(request=None, responses=LeadMergeSerializer)
    def post(self, request: Request, pk: int) -> Response:
        merge = lead_merge_undo(pk, by=request.user)  # type: ignore[arg-type]
        return Response(LeadMergeSerializer(merge).data)


class LeadEventsView(APIView):
    permission_classes = [ReadAnyWriteMarketer]

    @extend_schema(
        parameters=[OpenApiParameter("limit", int)], responses=EventSerializer(many=True)
    )
    def get(self, request: Request, pk: int) -> Response:
        """The timeline, newest first: a plain list of at most `limit` events (default 1000)."""
        lead = get_object_or_404(Lead, pk=pk)
        limit = limit_param(request.query_params.get("limit"), default=1000)
        events = selectors.lead_events(lead)[:limit]
        return Response(EventSerializer(events, many=True).data)
