"""Failed sign-in throttling (browser and API token): too many failures → 429 for a while."""

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest


def _keys(request: HttpRequest, username: str) -> list[str]:
    ip = request.META.get("REMOTE_ADDR", "")
    return [f"login-fail:ip:{ip}", f"login-fail:user:{username.strip().lower()[:150]}"]


def login_blocked(request: HttpRequest, username: str) -> bool:
    """True when this address or this username failed too often within the window."""
    limit = settings.LOGIN_FAILURE_LIMIT
    return any((cache.get(key) or 0) >= limit for key in _keys(request, username))


def login_failed(request: HttpRequest, username: str) -> None:
    window = settings.LOGIN_FAILURE_WINDOW_SECONDS
    for key in _keys(request, username):
        if cache.add(key, 1, timeout=window):
            continue
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout=window)
