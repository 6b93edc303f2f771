"""Public pages with no sign-in: landing-page form posts (/f/) and email tracking (/e/)."""

import base64
import logging
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import RequestDataTooBig
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from ..errors import InvalidInput
from ..models import Form
from ..throttle import client_ip
from .fields import INPUT_MAX_CHARS, LEAD_INPUT_FIELDS
from .forms import HONEYPOT_FIELD, VISITOR_FIELD, form_submit, submission_fields
from .tracking import CLICK, OPEN, TokenInvalid, email_event_record, token_read

log = logging.getLogger(__name__)
# A 1×1 transparent GIF.
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
FIELD_LABELS = {
    "last_name": "姓 / Last name",
    "first_name": "名 / First name",
    "company": "会社名 / Company",
    "department": "部署名 / Department",
    "title": "役職 / Title",
    "email": "メールアドレス / Email",
    "phone": "電話番号 / Phone",
    "employees": "従業員数 / Employees",
    "country": "国 / Country",
    "industry": "業種 / Industry",
}


def rate_limited(key: str, *, limit: int, window: int) -> bool:
    """Count one attempt under `key`; True once more than `limit` happened in the window."""
    cache_key = f"mqlapp:rate:{key}"
    if cache.add(cache_key, 1, timeout=window):
        return limit < 1
    try:
        return cache.incr(cache_key) > limit
    except ValueError:  # expired between add and incr
        cache.add(cache_key, 1, timeout=window)
        return False


def _wants_json(request: HttpRequest) -> bool:
    accept = request.META.get("HTTP_ACCEPT", "")
    return "application/json" in accept and "text/html" not in accept


def _form_page(
    request: HttpRequest,
    form: Form,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, Any] | None = None,
    message: str = "",
    status: int = 200,
) -> HttpResponse:
    values = values or {}
    errors = errors or {}
    rows = [
        {
            "name": name,
            "label": FIELD_LABELS[name],
            "value": _echo(values.get(name, "")),
            "error": _first(errors.get(name)),
            "required": name in form.required_fields or name == "email",
            "type": {"email": "email", "phone": "tel"}.get(name, "text"),
        }
        for name in LEAD_INPUT_FIELDS
    ]
    context = {
        "form": form,
        "rows": rows,
        "message": message,
        "consent_error": _first(errors.get("consent")),
        "visitor": values.get(VISITOR_FIELD) or request.COOKIES.get(VISITOR_FIELD, ""),
        "honeypot": HONEYPOT_FIELD,
    }
    return render(request, "leads/forms/form.html", context, status=status)


def _echo(value: Any) -> str:
    """A posted value to show again in its field; one past any field's bound is not shown."""
    text = str(value)
    return "" if len(text) > INPUT_MAX_CHARS else text


def _first(value: Any) -> str:
    if isinstance(value, list | tuple):
        return str(value[0]) if value else ""
    return str(value) if value else ""


def _refuse(
    request: HttpRequest, form: Form, status: int, message: str, *, code: str = "rate_limited"
) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse({"error": message, "code": code}, status=status)
    return _form_page(request, form, message=message, status=status)


@csrf_exempt  # posted from the marketer's own sites; protected by a honeypot and a rate limit
@require_http_methods(["GET", "POST"])
def form_post(request: HttpRequest, slug: str) -> HttpResponse:  # noqa: PLR0911 (one answer per outcome)
    form = Form.objects.filter(slug=slug, active=True).first()
    if form is None:
        raise Http404("no such form")
    if request.method == "GET":
        return _form_page(request, form)
    ip = client_ip(request)
    if rate_limited(
        f"form:{form.pk}:{ip}",
        limit=settings.FORM_RATE_LIMIT,
        window=settings.FORM_RATE_WINDOW_SECONDS,
    ):
        return _refuse(request, form, 429, "Too many submissions from your address; try later.")
    try:
        data = {key: request.POST.get(key, "") for key in request.POST}
    except RequestDataTooBig:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        message = f"The form is larger than the {limit // (1024 * 1024)} MB limit."
        return _refuse(request, form, 413, message, code="too_large")
    thanks = form.thank_you_url or reverse("form-thanks", args=[form.slug])
    if data.get(HONEYPOT_FIELD, "").strip():
        log.info("form %s: honeypot filled from %s; nothing stored", form.slug, ip)
        return HttpResponseRedirect(thanks, status=303)  # a bot learns nothing
    try:
        form_submit(
            form,
            data=data,
            ip=ip,
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
            page_url=request.META.get("HTTP_REFERER", ""),
            cookie_visitor=request.COOKIES.get(VISITOR_FIELD, ""),
        )
    except InvalidInput as exc:
        fields = exc.extra.get("fields", {})
        if _wants_json(request):
            return JsonResponse(
                {"error": exc.message, "code": "invalid", "fields": fields}, status=400
            )
        return _form_page(
            request,
            form,
            values=submission_fields(data),
            errors=fields,
            message=exc.message,
            status=400,
        )
    if _wants_json(request):
        return JsonResponse({"success": True, "redirect": thanks})
    return HttpResponseRedirect(thanks, status=303)


@require_GET
def form_thanks(request: HttpRequest, slug: str) -> HttpResponse:
    form = Form.objects.filter(slug=slug).first()
    if form is None:
        raise Http404("no such form")
    return render(request, "leads/forms/thanks.html", {"form": form})


def _record(request: HttpRequest, token: str, kind: str) -> None:
    email_event_record(
        token,
        kind=kind,
        ip=client_ip(request),
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
    )


def _bad_token(message: str = "invalid tracking token") -> JsonResponse:
    return JsonResponse({"error": message, "code": "invalid_token"}, status=400)


@require_GET
def email_open(request: HttpRequest, token: str) -> HttpResponse:
    try:
        _record(request, token, OPEN)
    except TokenInvalid as exc:
        return _bad_token(str(exc))
    response = HttpResponse(PIXEL, content_type="image/gif")
    response["Cache-Control"] = "no-store, no-cache, must-revalidate, max-age=0"
    response["Pragma"] = "no-cache"
    return response


@require_GET
def email_click(request: HttpRequest, token: str) -> HttpResponse:
    try:
        destination = token_read(token).get("u", "")
        if not destination:
            return _bad_token("this tracking link has no destination")
        _record(request, token, CLICK)
    except TokenInvalid as exc:
        return _bad_token(str(exc))
    response = HttpResponseRedirect(destination)  # only the URL we signed: no open redirect
    response["Cache-Control"] = "no-store"
    return response
