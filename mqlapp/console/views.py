"""Server-rendered pages of the core domain: sign-in, dashboard, leads list."""

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from django.views.decorators.http import require_POST

from handoff.lifecycle import Stage
from handoff.models import LeadView
from mqlapp.leads import services
from mqlapp.leads.errors import InvalidInput
from mqlapp.leads.models import Source, User
from mqlapp.leads.roles import ADMIN, MARKETER, ROLES, SALES, user_role
from mqlapp.leads.selectors import visitors_events, visitors_list
from mqlapp.leads.throttle import cool_off
from scoring.selectors import events_engagement

from . import selectors
from .access import page_for
from .source_snippets import sdk_snippets
from .timeline import timeline

# The main navigation: (url name, words, roles that see it; None: everyone). The last group is
# the admin's settings, under one Settings menu.
NavEntry = tuple[str, Any, tuple[str, ...] | None]
NAV_WORK: tuple[NavEntry, ...] = (
    ("leads", gettext_lazy("Leads"), None),
    ("visitors", pgettext_lazy("nav", "Visitors"), None),
    ("queue", gettext_lazy("Queue"), (SALES, ADMIN)),
    ("reapproach", gettext_lazy("Re-approach"), (MARKETER, ADMIN)),
    ("rules", gettext_lazy("Rules"), (MARKETER, ADMIN)),
    ("imports", gettext_lazy("Imports"), (MARKETER, ADMIN)),
    ("policy", gettext_lazy("Policy"), None),
)
NAV_SETTINGS: tuple[NavEntry, ...] = (
    ("sources", gettext_lazy("Sources"), (ADMIN,)),
    ("webhooks", gettext_lazy("Webhooks"), (ADMIN,)),
    ("users", gettext_lazy("Users"), (ADMIN,)),
)


def nav_links(path: str, role: str | None, entries: tuple[NavEntry, ...]) -> list[dict[str, Any]]:
    """The entries a role sees, each marked current when the page is under its path (the
    rule editor is under Rules, one webhook under Webhooks)."""
    links = []
    for name, words, roles in entries:
        if roles is not None and role not in roles:
            continue
        url = reverse(name)
        links.append({"url": url, "name": name, "words": words, "current": path.startswith(url)})
    return links


def nav_context(request: HttpRequest) -> dict[str, Any]:
    role = user_role(getattr(request, "user", None))
    path = getattr(request, "path", "")
    settings = nav_links(path, role, NAV_SETTINGS)
    return {
        "role": role,
        "nav_work": nav_links(path, role, NAV_WORK),
        "nav_settings": settings,
        "nav_settings_current": any(link["current"] for link in settings),
        "nav_home": path == reverse("dashboard"),
    }


class LoginView(auth_views.LoginView):
    """Session sign-in. Failed sign-ins are counted by django-axes (per username and client
    address); once locked, `lockout_response` answers instead of this view."""

    template_name = "console/login.html"
    redirect_authenticated_user = True


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None, credentials: Any
) -> HttpResponse:
    """django-axes' answer (AXES_LOCKOUT_CALLABLE) for a sign-in attempt at the limit: the
    attempt that reaches the limit still gets the usual "wrong password" answer; the ones
    refused while locked get 429 with Retry-After, as JSON for the API and as the sign-in page
    (the console's and the admin site's) otherwise."""
    if original_response is not None and getattr(request, "axes_failures_since_start", None):
        return original_response  # this attempt was checked and failed: the next is refused
    retry_after = str(int(cool_off(request).total_seconds()))
    if request.path.startswith("/api/"):
        answer: HttpResponse = JsonResponse(
            {"error": "too many failed sign-ins; try again later", "code": "throttled"},
            status=429,
        )
    else:
        form = AuthenticationForm(request)
        answer = render(
            request, LoginView.template_name, {"form": form, "throttled": True}, status=429
        )
    answer["Retry-After"] = retry_after
    return answer


@page_for()
def leads_page(request: HttpRequest) -> HttpResponse:
    params = request.GET.dict()
    error = ""
    try:
        rows = selectors.leads_list(request=request, params=params)
    except InvalidInput as exc:
        error, rows = exc.message, LeadView.objects.none()
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    query = {k: v for k, v in params.items() if k != "page" and v}
    current = params.get("ordering") or "-score"
    sort_links = {
        name: urlencode({**query, "ordering": name if current == f"-{name}" else f"-{name}"})
        for name in ("last_name", "company", "score", "last_activity_at")
    }
    return render(
        request,
        "console/leads.html",
        {
            "page": page,
            "params": params,
            "error": error,
            "stages": Stage.values,
            "query": urlencode({k: v for k, v in query.items() if k != "ordering"}),
            "export_query": urlencode(query),
            "sort_links": sort_links,
            "ordering": current,
            "can_export": user_role(request.user) in (MARKETER, ADMIN),
        },
    )


@page_for(ADMIN)
def users_page(request: HttpRequest) -> HttpResponse:
    """Admins: the users, their roles and availability; create a user."""
    error = ""
    if request.method == "POST":
        try:
            if request.POST.get("action") == "availability":
                user = User.objects.get(pk=int(request.POST.get("user_id", "0")))
                services.user_update(user, data={"available": request.POST.get("available") == "1"})
            else:
                services.user_create(
                    username=request.POST.get("username", "").strip(),
                    password=request.POST.get("password", ""),
                    email=request.POST.get("email", "").strip(),
                    role=request.POST.get("role", ""),
                )
            return redirect("users")
        except (InvalidInput, User.DoesNotExist, ValueError) as exc:
            error = getattr(exc, "message", str(exc))
    users = User.objects.order_by("username").prefetch_related("groups")
    rows = [{"user": u, "role": user_role(u)} for u in users]
    return render(request, "console/users.html", {"rows": rows, "roles": ROLES, "error": error})


def _origins_posted(request: HttpRequest) -> list[str]:
    return [o.strip() for o in request.POST.get("allowed_origins", "").split() if o.strip()]


@page_for(ADMIN)
def sources_page(request: HttpRequest) -> HttpResponse:
    """Admins: sources with their kind, write key, origins and the copy-paste tracking tag."""
    error = ""
    if request.method == "POST":
        name = request.POST.get("name", "").strip()
        if not name:
            error = _("A name is required.")
        else:
            try:
                services.source_create(
                    name=name,
                    allowed_origins=_origins_posted(request),
                    kind=request.POST.get("kind") or None,
                )
            except InvalidInput as exc:
                error = exc.message
            else:
                return redirect("sources")
    base = request.build_absolute_uri("/").rstrip("/")
    script = static("mqlapp/mql.js")
    sources = [
        (source, sdk_snippets(base, script, source.write_key))
        for source in Source.objects.order_by("id")
    ]
    return render(
        request,
        "console/sources.html",
        {
            "sources": sources,
            "base": base,
            "error": error,
            "kinds": Source.Kind.choices,
        },
    )


@page_for(ADMIN)
@require_POST
def source_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Change a source's name, allowed origins, kind and active flag (SPEC §2)."""
    source = get_object_or_404(Source, pk=pk)
    data = {
        "name": request.POST.get("name", ""),
        "allowed_origins": _origins_posted(request),
        "active": request.POST.get("active") == "1",
        "kind": request.POST.get("kind") or None,
    }
    try:
        updated = services.source_update(source, data=data)
    except InvalidInput as exc:
        messages.error(request, exc.message)
    else:
        if updated.write_key != source.write_key:
            messages.success(request, _("Saved. This is now a server key, with a new write key."))
        else:
            messages.success(request, _("Saved."))
    return redirect("sources")


@page_for(ADMIN)
@require_POST
def source_rotate(request: HttpRequest, pk: int) -> HttpResponse:
    """A new write key; the old one is refused from now on."""
    services.source_rotate(get_object_or_404(Source, pk=pk))
    messages.success(
        request, _("New write key issued: the old key is refused from now on. Update your tags.")
    )
    return redirect("sources")


VISITORS_PER_PAGE = 25
VISITOR_EVENTS_SHOWN = 5


@page_for()
def visitors_page(request: HttpRequest) -> HttpResponse:
    """Visitors not identified yet (SPEC §7 /visitors/): who is warming up before a form fill,
    with their latest events and the engagement the live rules would give them."""
    page = Paginator(visitors_list(), VISITORS_PER_PAGE).get_page(request.GET.get("page"))
    rows = list(page.object_list)
    events = visitors_events([row["anonymous_id"] for row in rows])
    engagement = events_engagement(events, now=timezone.now())
    for row in rows:
        mine = events.get(row["anonymous_id"], [])
        row["engagement"] = engagement.get(row["anonymous_id"])
        row["recent"] = timeline(mine[:VISITOR_EVENTS_SHOWN], identified_at=None)
        row["more"] = max(0, row["events"] - VISITOR_EVENTS_SHOWN)
    return render(request, "console/visitors.html", {"page": page, "rows": rows})
