"""Serializer building blocks shared by every app's answers."""

import keyword
from datetime import datetime
from typing import Any

from rest_framework import serializers


class MomentField(serializers.DateTimeField):
    """A moment written as `datetime.isoformat()` writes it, in the zone it carries (UTC for
    database values, the asked-for zone for a report's period). DRF's own field would move it
    to the current time zone and write UTC as "Z"; these answers have always carried the
    offset as stored, and clients rely on the format."""

    def to_representation(self, value: datetime | None) -> str | None:  # type: ignore[override]
        return value.isoformat() if value is not None else None


class KeywordNamesMixin:
    """Lets an answer have a field named like a Python keyword (`"from"`): declare it with a
    trailing underscore (`from_ = ...`) and it is named without one in the answer and schema."""

    def get_fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = super().get_fields()  # type: ignore[misc]
        return {_public(name): field for name, field in fields.items()}


def _public(name: str) -> str:
    bare = name.removesuffix("_")
    return bare if name.endswith("_") and keyword.iskeyword(bare) else name
