"""API authentication: user tokens ("Token <key>") and ingestion write keys (HTTP Basic)."""

import base64
import binascii

from django.http import HttpRequest
from rest_framework.authentication import TokenAuthentication

from .models import Source


class BearerlessTokenAuthentication(TokenAuthentication):
    """`Authorization: Token <key>`, as SPEC §2 names it."""

    keyword = "Token"


def write_key_from_request(request: HttpRequest, body: object) -> str | None:
    """The write key of an ingestion call: Basic auth user name, `Bearer <write key>`,
    `writeKey` in the body, or `?writeKey=` (RudderStack's beacon delivery puts it there)."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer":
            return value.strip() or None
        if scheme.lower() != "basic":
            return None  # a user token ("Token <key>") is not a write key
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[0] or None
    if isinstance(body, dict):
        key = body.get("writeKey") or body.get("write_key")
        if isinstance(key, str) and key:
            return key
    return request.GET.get("writeKey") or None


def source_for_write_key(key: str | None) -> Source | None:
    if not key:
        return None
    return Source.objects.filter(write_key=key, active=True).first()
