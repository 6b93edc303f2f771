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
from ..models import Lead, Source, User
from ..parsing import limit_param
from ..roles import AdminOnly, ReadAnyWriteMarketer
from ..throttle import login_blocked, login_failed
from .serializers import (
    EventSerializer,
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
        http = request._request  # noqa: SLF001 (DRF's documented way to the Django request)
        if login_blocked(http, username):
            return Response(
                {"error": "too many failed sign-ins; try again later", "code": "throttled"},
                status=status.HTTP_429_TOO_MANY_REQUESTS,
            )
        user = authenticate(http, username=username, password=password)
        if user is None:
            login_failed(http, username)
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
        )
        return Response(SourceSerializer(source).data, status=status.HTTP_201_CREATED)


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
