"""Server-rendered pages of the handoff: the sales queue and the lead detail with its actions."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from mqlapp.errors import DomainError
from mqlapp.models import Lead
from mqlapp.roles import ADMIN, SALES, user_role
from scoring.selectors import lead_score

from . import selectors, services
from .lifecycle import QUEUE_ACTIONS, REASONS, allowed_actions


@login_required
def queue_page(request: HttpRequest) -> HttpResponse:
    if user_role(request.user) not in (SALES, ADMIN):
        return render(request, "handoff/forbidden.html", status=403)
    rows = selectors.queue_for(request.user)[:500]  # type: ignore[arg-type]
    return render(request, "handoff/queue.html", {"leads": rows, "reasons": REASONS})


@login_required
def lead_page(request: HttpRequest, pk: int) -> HttpResponse:
    lead = get_object_or_404(Lead, pk=pk)
    can_act = user_role(request.user) in (SALES, ADMIN)
    return render(
        request,
        "handoff/lead_detail.html",
        {
            "lead": lead,
            "score": lead_score(lead),
            "events": lead.events.order_by("-timestamp", "-id")[:100],
            "history": selectors.lead_history(lead),
            "actions": allowed_actions(lead.stage) if can_act else [],
            "reasons": REASONS,
        },
    )


@login_required
@require_POST
def lead_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    if user_role(request.user) not in (SALES, ADMIN) or action not in QUEUE_ACTIONS:
        return render(request, "handoff/forbidden.html", status=403)
    try:
        services.queue_action(pk, action, user=request.user, data=request.POST.dict())  # type: ignore[arg-type]
    except DomainError as exc:
        messages.error(request, exc.message)
    nxt = request.POST.get("next") or f"/leads/{pk}/"
    return redirect(nxt if nxt.startswith("/") and not nxt.startswith("//") else "/")
