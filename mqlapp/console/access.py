"""Who may open a page: signed in, and in one of the page's roles (SPEC §2); others get the
403 page. A signed-in user with no role sees nothing but that page."""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from mqlapp.leads.roles import ROLES, user_role

View = Callable[..., HttpResponse]


def forbidden(request: HttpRequest) -> HttpResponse:
    return render(request, "console/forbidden.html", status=403)


def page_for(*roles: str) -> Callable[[View], View]:
    """The view is for these roles (default: every role)."""
    allowed = roles or ROLES

    def decorate(view: View) -> View:
        @login_required
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if user_role(request.user) not in allowed:
                return forbidden(request)
            return view(request, *args, **kwargs)

        return wrapped

    return decorate
