"""Server-rendered pages of the core domain: sign-in, dashboard, leads list."""

from typing import Any

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from . import selectors
from .errors import InvalidInput
from .models import Lead, Stage
from .roles import user_role
from .throttle import login_blocked, login_failed


def nav_context(request: HttpRequest) -> dict[str, Any]:
    return {"role": user_role(getattr(request, "user", None))}


class LoginView(auth_views.LoginView):
    """Session sign-in; repeated failures from an address or for a user answer 429."""

    template_name = "mqlapp/login.html"
    redirect_authenticated_user = True

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        username = request.POST.get("username", "")
        if login_blocked(request, username):
            return render(
                request,
                self.template_name,
                {"form": self.get_form(), "throttled": True},
                status=429,
            )
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form: Any) -> HttpResponse:
        login_failed(self.request, self.request.POST.get("username", ""))
        return super().form_invalid(form)


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    counts = {stage: Lead.objects.filter(stage=stage).count() for stage in Stage.values}
    return render(request, "mqlapp/dashboard.html", {"counts": counts})


@login_required
def leads_page(request: HttpRequest) -> HttpResponse:
    params = request.GET.dict()
    error = ""
    try:
        rows = selectors.leads_list(user=request.user, params=params)  # type: ignore[arg-type]
    except InvalidInput as exc:
        error, rows = exc.message, Lead.objects.none()
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "mqlapp/leads.html",
        {"page": page, "params": params, "error": error, "stages": Stage.values},
    )
