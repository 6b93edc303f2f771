"""Shapes of the core API's answers and bodies, and the writable fields of a lead (named,
nothing else): each one renders the answer and, through drf-spectacular, is its OpenAPI
description."""

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.validators import UnicodeUsernameValidator
from rest_framework import serializers
from rest_framework.authtoken.models import Token

from ..errors import InvalidInput
from ..models import Erasure, Event, LeadMerge, Source, User
from ..parsing import INT_MAX
from ..roles import ROLES, user_role
from ..services import origins_clean
from .fields import MomentField


class TokenRequestSerializer(serializers.Serializer[Any]):
    username = serializers.CharField()
    password = serializers.CharField()


class TokenAnswerSerializer(serializers.Serializer[Token]):
    token = serializers.CharField(source="key")


class LeadWriteSerializer(serializers.Serializer[Any]):
    """Fields a lead create/PATCH may set; score, stage and owner are never among them."""

    email = serializers.EmailField(required=False, allow_blank=True)
    first_name = serializers.CharField(required=False, allow_blank=True, max_length=150)
    last_name = serializers.CharField(required=False, allow_blank=True, max_length=150)
    company = serializers.CharField(required=False, allow_blank=True, max_length=200)
    department = serializers.CharField(required=False, allow_blank=True, max_length=200)
    title = serializers.CharField(required=False, allow_blank=True, max_length=200)
    phone = serializers.CharField(required=False, allow_blank=True, max_length=50)
    employees = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=INT_MAX
    )
    country = serializers.CharField(required=False, allow_blank=True, max_length=100)
    industry = serializers.CharField(required=False, allow_blank=True, max_length=200)
    traits = serializers.DictField(required=False)


class EventSerializer(serializers.ModelSerializer[Event]):
    class Meta:
        model = Event
        fields = (
            "id",
            "message_id",
            "type",
            "name",
            "properties",
            "context",
            "traits",
            "campaign",
            "anonymous_id",
            "user_id",
            "timestamp",
            "received_at",
        )


class UserSerializer(serializers.ModelSerializer[User]):
    role = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ("id", "username", "email", "role", "available", "is_active")

    def get_role(self, user: User) -> str | None:
        return user_role(user)


class UserCreateSerializer(serializers.Serializer[Any]):
    # Django's own rule for user names: letters, digits and @ . + - _ (as the answer says)
    username = serializers.CharField(max_length=150, validators=[UnicodeUsernameValidator()])
    password = serializers.CharField(write_only=True)
    email = serializers.EmailField(required=False, allow_blank=True)
    role = serializers.ChoiceField(choices=ROLES)


class UserUpdateSerializer(serializers.Serializer[Any]):
    email = serializers.EmailField(required=False, allow_blank=True)
    role = serializers.ChoiceField(choices=ROLES, required=False)
    available = serializers.BooleanField(required=False)
    is_active = serializers.BooleanField(required=False)
    password = serializers.CharField(required=False, write_only=True)


class SourceSerializer(serializers.ModelSerializer[Source]):
    """A source. `kind` omitted: browser when it has allowed origins, else server."""

    kind = serializers.ChoiceField(choices=Source.Kind.choices, required=False)

    class Meta:
        model = Source
        fields = (
            "id",
            "name",
            "kind",
            "write_key",
            "allowed_origins",
            "active",
            "created_at",
            "key_rotated_at",
        )
        read_only_fields = ("id", "write_key", "created_at", "key_rotated_at")

    def validate_allowed_origins(self, value: Any) -> list[str]:
        try:
            return origins_clean(value)
        except InvalidInput as exc:
            raise serializers.ValidationError(exc.message) from exc


@dataclass(frozen=True)
class ErasureOutcome:
    """An erasure record, and whether the person had been erased before this request."""

    erasure: Erasure
    already_erased: bool


class ErasureSerializer(serializers.Serializer[ErasureOutcome]):
    """What an erasure removed (counts only: no personal data)."""

    lead = serializers.IntegerField(source="erasure.lead_id")
    at = MomentField(source="erasure.at")
    by = serializers.CharField(source="erasure.by.username", allow_null=True)
    counts = serializers.DictField(source="erasure.counts", child=serializers.IntegerField())
    already_erased = serializers.BooleanField()


class LeadMergeSerializer(serializers.ModelSerializer[LeadMerge]):
    """A merge of two leads (alias): which lead survived, which was merged away, and whether
    an admin undid it."""

    into = serializers.IntegerField(source="into_id", allow_null=True, read_only=True)
    undone_by = serializers.IntegerField(source="undone_by_id", allow_null=True, read_only=True)

    class Meta:
        model = LeadMerge
        fields = (
            "id",
            "into",
            "merged_lead_id",
            "merged_email",
            "reason",
            "message_id",
            "events_moved",
            "at",
            "undone_at",
            "undone_by",
        )
        read_only_fields = fields
