"""A database that is down or unreachable answers 503 with Retry-After (JSON for the API, a
short page for the console), never a 500 page; Django connects afresh on a later request."""

import logging
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.translation import gettext as _

from .leads.errors import DATABASE_UNAVAILABLE, RETRY_AFTER_SECONDS

log = logging.getLogger(__name__)


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, DATABASE_UNAVAILABLE):
            return None
        log.warning(
            "%s %s: database unavailable: %s: %s",
            request.method,
            request.path,
            type(exception).__name__,
            exception,
        )
        message = _("The database is unavailable. Nothing was changed; try again shortly.")
        response: HttpResponse
        if _wants_page(request):
            # Rendered without the request: no context processor may touch the database.
            page = render_to_string("unavailable.html", {"message": message})
            response = HttpResponse(page, status=503)
        else:
            body = {
                "error": message,
                "code": "database_unavailable",
                "retry_after": RETRY_AFTER_SECONDS,
            }
            response = JsonResponse(body, status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response


def _wants_page(request: HttpRequest) -> bool:
    if request.path.startswith(("/api/", "/v1/")) or request.headers.get("HX-Request"):
        return False
    return "text/html" in request.headers.get("Accept", "")
