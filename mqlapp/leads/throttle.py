"""Who is calling, and failed sign-ins: one proxy-aware client address for every use (form
rate limits, consent records, sign-in throttling), and the settings callables of django-axes,
which counts failed sign-ins per username and client address together (settings.AXES_*)."""

import ipaddress
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.http import HttpRequest

USERNAME_MAX = 150  # Django's username column


def _address(text: str) -> str | None:
    """`text` as an IP address, or None when it is not one (a forged header holds anything)."""
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str | None:
    """The caller's address. Behind NUM_PROXIES trusted proxies, each of which appends the
    address it saw to X-Forwarded-For, it is the entry NUM_PROXIES from the right: entries left
    of it were written by the client and are never trusted. Without proxies, REMOTE_ADDR."""
    proxies = int(settings.NUM_PROXIES)
    if proxies:
        forwarded = str(request.META.get("HTTP_X_FORWARDED_FOR", "")).split(",")
        if len(forwarded) >= proxies:
            found = _address(forwarded[-proxies])
            if found:
                return found
    return _address(str(request.META.get("REMOTE_ADDR") or ""))


def username_of(request: HttpRequest, credentials: dict[str, Any] | None) -> str:
    """The user name a sign-in attempt names, as the throttle counts it (case and surrounding
    spaces ignored, cut to the column's length)."""
    name = (credentials or {}).get("username")
    if name is None:
        name = request.POST.get("username", "") if request.method == "POST" else ""
    return str(name).strip().lower()[:USERNAME_MAX]


def failure_limit(request: HttpRequest, credentials: dict[str, Any] | None) -> int:
    """Failed sign-ins of one username from one address before it is refused (429)."""
    return int(settings.LOGIN_FAILURE_LIMIT)


def cool_off(request: HttpRequest | None = None) -> timedelta:
    """How long a lock lasts; failures older than this are forgotten."""
    return timedelta(seconds=int(settings.LOGIN_FAILURE_WINDOW_SECONDS))
