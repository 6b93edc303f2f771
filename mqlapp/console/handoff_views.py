"""Server-rendered pages of the handoff: queue, lead detail, re-approach list, webhooks (with
their delivery log and the e-mail notifications that failed)."""

import json
from collections.abc import Iterable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from handoff import notifications, selectors, services, webhooks
from handoff.lifecycle import QUEUE_ACTIONS, REASONS, WEBHOOK_EVENTS, allowed_actions
from handoff.models import LeadView, Webhook, WebhookDelivery
from mqlapp.leads.errors import DomainError
from mqlapp.leads.ingest.merge import lead_merge_undo
from mqlapp.leads.roles import ADMIN, SALES, user_role
from mqlapp.leads.selectors import merges_list
from scoring.selectors import lead_score, lead_score_history

from .access import forbidden, page_for
from .dashboard import dashboard_data, score_chart


@page_for()
def dashboard_page(request: HttpRequest) -> HttpResponse:
    """Funnel with conversion, MQLs per week, SLA compliance, rejections, score spread."""
    return render(request, "console/dashboard.html", {"data": dashboard_data()})


@login_required
def queue_page(request: HttpRequest) -> HttpResponse:
    if user_role(request.user) not in (SALES, ADMIN):
        return forbidden(request)
    show = request.GET.get("show", "all")
    rows = selectors.queue_for(request.user)  # type: ignore[arg-type]
    if show == "mine":
        rows = rows.filter(lifecycle__owner=request.user)  # type: ignore[misc]
    elif show == "unassigned":
        rows = rows.filter(lifecycle__owner__isnull=True)
    return render(
        request,
        "console/queue.html",
        {"leads": rows[:500], "reasons": REASONS, "now": timezone.now(), "show": show},
    )


@page_for()
def lead_page(request: HttpRequest, pk: int) -> HttpResponse:
    lead = get_object_or_404(LeadView, pk=pk)
    can_act = user_role(request.user) in (SALES, ADMIN)
    return render(
        request,
        "console/lead_detail.html",
        {
            "lead": lead,
            "score": lead_score(lead),
            "score_chart": score_chart(lead_score_history(lead)),
            "events": lead.events.order_by("-timestamp", "-id")[:100],
            "history": selectors.lead_history(lead),
            "assignments": selectors.lead_assignments(lead),
            "actions": allowed_actions(lead.stage) if can_act else [],
            "reasons": REASONS,
            "overdue": lead.overdue,
            "merges": merges_list(lead_id=lead.pk) if user_role(request.user) == ADMIN else [],
        },
    )


@page_for(ADMIN)
@require_POST
def merge_undo(request: HttpRequest, pk: int) -> HttpResponse:
    """Undo a merge: the merged-away lead comes back; shown on the survivor's page."""
    try:
        merge = lead_merge_undo(pk, by=request.user)  # type: ignore[arg-type]
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("leads")
    messages.success(request, _("Merge undone: both leads are being re-scored."))
    return redirect("lead", merge.merged_lead_id)


@login_required
@require_POST
def lead_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    if user_role(request.user) not in (SALES, ADMIN) or action not in QUEUE_ACTIONS:
        return forbidden(request)
    try:
        services.queue_action(pk, action, user=request.user, data=request.POST.dict())  # type: ignore[arg-type]
    except DomainError as exc:
        messages.error(request, exc.message)
    nxt = request.POST.get("next") or reverse("lead", args=[pk])
    safe = url_has_allowed_host_and_scheme(nxt, allowed_hosts={request.get_host()})
    return redirect(nxt if safe else reverse("dashboard"))


@login_required
def reapproach_page(request: HttpRequest) -> HttpResponse:
    if user_role(request.user) is None:
        return forbidden(request)
    return render(request, "console/reapproach.html", {"leads": selectors.reapproach_list()[:500]})


# A new signing secret waits in the (server-side) session for the one page that shows it.
ONCE_SESSION_KEY = "webhook_secret_once"


def _secret_once(request: HttpRequest, hook: Webhook) -> None:
    request.session[ONCE_SESSION_KEY] = {"id": hook.pk, "secret": hook.secret}


@login_required
def webhooks_page(request: HttpRequest) -> HttpResponse:
    if user_role(request.user) != ADMIN:
        return forbidden(request)
    if request.method == "POST":
        data = {"url": request.POST.get("url", ""), "events": request.POST.getlist("events")}
        try:
            hook = webhooks.webhook_create(data=data)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Webhook saved."))
            _secret_once(request, hook)
            return redirect("webhook", pk=hook.pk)
    return render(
        request,
        "console/webhooks.html",
        {
            "hooks": selectors.webhooks_all().annotate(
                failed=Count("deliveries", filter=Q(deliveries__status="failed"))
            ),
            "events": WEBHOOK_EVENTS,
            "notifications": notifications.notifications_failing(),
        },
    )


@login_required
def webhook_page(request: HttpRequest, pk: int) -> HttpResponse:
    if user_role(request.user) != ADMIN:
        return forbidden(request)
    hook = get_object_or_404(Webhook, pk=pk)
    if request.method == "POST":
        if request.POST.get("delete"):
            webhooks.webhook_delete(hook)
            return redirect("webhooks")
        if request.POST.get("rotate"):
            _secret_once(request, webhooks.webhook_rotate(hook))
            messages.success(request, _("New signing secret made; the old one signs no more."))
            return redirect("webhook", pk=pk)
        webhooks.webhook_update(hook, data={"active": request.POST.get("active") == "on"})
        return redirect("webhook", pk=pk)
    shown = request.session.get(ONCE_SESSION_KEY) or {}
    secret = None
    if shown.get("id") == hook.pk:
        secret = shown.get("secret")
        del request.session[ONCE_SESSION_KEY]  # shown once: a reload no longer has it
    response = render(
        request,
        "console/webhook_detail.html",
        {
            "hook": hook,
            "secret": secret,
            "deliveries": delivery_rows(selectors.webhook_deliveries(hook)[:100]),
        },
    )
    if secret:
        response["Cache-Control"] = "no-store"  # no copy of the secret in the browser's cache
    return response


def _lead_name(data: dict[str, Any]) -> str:
    """Family name first, as on every page; the email when the body has no name."""
    parts = [str(data.get(key) or "") for key in ("last_name", "first_name")]
    return " ".join(p for p in parts if p) or str(data.get("email") or "")


def delivery_rows(deliveries: Iterable[WebhookDelivery]) -> list[dict[str, Any]]:
    """The delivery log as people read it: the event, the lead it was about (from the body
    sent), the body pretty-printed, and the receiver's last answer."""
    rows = []
    for delivery in deliveries:
        try:
            body = json.loads(delivery.payload)
        except ValueError:
            body = None
        data = body.get("data") if isinstance(body, dict) else None
        lead_id = data.get("id") if isinstance(data, dict) else None
        tries = list(delivery.tries.all())
        rows.append(
            {
                "d": delivery,
                "lead_id": lead_id if isinstance(lead_id, int) else None,
                "lead_name": _lead_name(data) if isinstance(data, dict) else "",
                "payload": json.dumps(body, ensure_ascii=False, indent=2)
                if body is not None
                else delivery.payload,
                "tries": tries,
                "answer": tries[-1] if tries else None,
            }
        )
    return rows


@login_required
@require_POST
def webhook_test(request: HttpRequest, pk: int) -> HttpResponse:
    if user_role(request.user) != ADMIN:
        return forbidden(request)
    hook = get_object_or_404(Webhook, pk=pk)
    try:
        webhooks.webhook_send_test(hook)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("A test message is on its way; its answer shows in the log."))
    return redirect("webhook", pk=pk)


@login_required
@require_POST
def webhook_delivery_resend(request: HttpRequest, pk: int, delivery_id: int) -> HttpResponse:
    if user_role(request.user) != ADMIN:
        return forbidden(request)
    hook = get_object_or_404(Webhook, pk=pk)
    try:
        webhooks.webhook_delivery_resend(hook, delivery_id)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The delivery is being sent again."))
    return redirect("webhook", pk=pk)


@login_required
@require_POST
def notification_retry(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    if user_role(request.user) != ADMIN:
        return forbidden(request)
    try:
        notifications.notification_retry(kind, pk)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The notification is being sent again."))
    return redirect("webhooks")
