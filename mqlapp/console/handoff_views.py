"""Server-rendered pages of the handoff: queue, lead detail, re-approach list, webhooks (with
their delivery log and the e-mail notifications that failed)."""

import json
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from handoff import notifications, selectors, services, webhooks
from handoff.lifecycle import (
    QUEUE_ACTIONS,
    REASONS,
    WEBHOOK_EVENTS,
    Stage,
    allowed_actions,
    overdue_q,
)
from handoff.models import LeadLifecycle, LeadView, Webhook, WebhookDelivery
from mqlapp.leads.errors import DomainError
from mqlapp.leads.ingest.merge import lead_merge_undo
from mqlapp.leads.models import Lead
from mqlapp.leads.roles import ADMIN, SALES, user_role
from mqlapp.leads.selectors import lead_consent_latest, lead_identified_at, merges_list
from scoring.selectors import lead_score

from .access import forbidden, page_for
from .dashboard import dashboard_data, score_path_chart
from .timeline import timeline


@page_for()
def dashboard_page(request: HttpRequest) -> HttpResponse:
    """Funnel with conversion, MQLs per week, SLA compliance, rejections, score spread."""
    return render(request, "console/dashboard.html", {"data": dashboard_data()})


# The words for the reject / recycle reasons (handoff.lifecycle.REASONS), in the UI language.
REASON_WORDS = {
    "no_budget": gettext_lazy("No budget"),
    "no_authority": gettext_lazy("No decision authority"),
    "no_need": gettext_lazy("No need"),
    "bad_timing": gettext_lazy("Bad timing"),
    "bad_contact_data": gettext_lazy("Wrong contact data"),
    "competitor": gettext_lazy("Competitor"),
    "student_or_job_seeker": gettext_lazy("Student or job seeker"),
    "other": gettext_lazy("Other"),
}
QUEUE_TABS = ("all", "mine", "unassigned")


def reason_choices() -> list[tuple[str, str]]:
    return [(code, str(REASON_WORDS.get(code, code))) for code in REASONS]


def person_name(lead: LeadView | Lead) -> str:
    """A lead's name, family name first (SPEC §1), or its e-mail when it has none."""
    return f"{lead.last_name} {lead.first_name}".strip() or lead.email


def lead_name(lead: LeadView | Lead) -> str:
    """Who a message is about: the name, then the company."""
    name = person_name(lead)
    return f"{name} ({lead.company})" if lead.company else name


@login_required
def queue_page(request: HttpRequest) -> HttpResponse:
    """The MQLs a user may work, overdue first (by SLA due time, then score), each with the
    actions its stage allows (handoff.lifecycle.allowed_actions)."""
    if user_role(request.user) not in (SALES, ADMIN):
        return forbidden(request)
    show = request.GET.get("show", "all")
    show = show if show in QUEUE_TABS else "all"
    every = selectors.queue_for(request.user)  # type: ignore[arg-type]
    tabs = {
        "all": every,
        "mine": every.filter(lifecycle__owner=request.user),  # type: ignore[misc]
        "unassigned": every.filter(lifecycle__owner__isnull=True),
    }
    now = timezone.now()
    leads = list(tabs[show][:500])
    for lead in leads:
        lead.actions = allowed_actions(lead.stage, owned=lead.owner_id is not None)  # type: ignore[attr-defined]
        lead.display_name = person_name(lead)  # type: ignore[attr-defined]
    return render(
        request,
        "console/queue.html",
        {
            "leads": leads,
            "now": now,
            "show": show,
            "tabs": [(key, tabs[key].count()) for key in QUEUE_TABS],
            "overdue_count": every.filter(overdue_q(now, prefix="lifecycle__")).count(),
            **sales_forms_context(),
        },
    )


def sales_forms_context() -> dict[str, object]:
    """What console/_sales_forms.html needs besides the lead: the reasons in words and the
    policy's default re-approach date."""
    days = services.policy_get().default_recycle_days
    return {
        "reasons": reason_choices(),
        "reapproach_default": timezone.localdate() + timedelta(days=days),
        "recycle_days": days,
    }


@page_for()
def lead_page(request: HttpRequest, pk: int) -> HttpResponse:
    lead = get_object_or_404(LeadView, pk=pk)
    can_act = user_role(request.user) in (SALES, ADMIN)
    history = selectors.lead_history(lead)
    recycles = [h.at for h in history if h.to_stage == Stage.RECYCLED]
    lead.actions = (  # type: ignore[attr-defined]
        allowed_actions(lead.stage, owned=lead.owner_id is not None) if can_act else []
    )
    lead.display_name = person_name(lead)  # type: ignore[attr-defined]
    return render(
        request,
        "console/lead_detail.html",
        {
            "lead": lead,
            "score": lead_score(lead),
            "score_chart": score_path_chart(
                lead.pk, recycles=recycles, threshold=services.policy_get().mql_threshold
            ),
            "events": timeline(
                lead.events.order_by("-timestamp", "-id")[:100],
                identified_at=lead_identified_at(lead.pk),
            ),
            "consent": lead_consent_latest(lead.pk),
            "history": history,
            "assignments": selectors.lead_assignments(lead),
            "actions": [a for a in lead.actions if a not in ("reject", "recycle")],  # type: ignore[attr-defined]
            **sales_forms_context(),
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


def action_done_message(action: str, life: LeadLifecycle, *, reason: str = "") -> str:
    """What a rep reads after an action: what happened, to whom. There is no undo: each
    action is a recorded stage change whose webhook may already have reached the CRM
    (docs/handoff.md, "Queue feedback")."""
    values = {"lead": lead_name(life.lead)}
    if action == "reject":
        values["reason"] = str(REASON_WORDS.get(reason, reason))
        return _("Rejected %(lead)s (%(reason)s).") % values
    if action == "recycle":
        day = life.reapproach_on
        values["date"] = date_format(day, "DATE_FORMAT") if day else "-"
        return _("Recycled %(lead)s: back to nurturing on %(date)s.") % values
    texts = {
        "claim": _("Claimed %(lead)s: it is yours now."),
        "accept": _("Accepted %(lead)s."),
        "qualify": _("Qualified %(lead)s as an opportunity (SQL)."),
        "win": _("Marked %(lead)s as won."),
        "lose": _("Marked %(lead)s as lost."),
    }
    return texts[action] % values


@login_required
@require_POST
def lead_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    if user_role(request.user) not in (SALES, ADMIN) or action not in QUEUE_ACTIONS:
        return forbidden(request)
    try:
        life = services.queue_action(pk, action, user=request.user, data=request.POST.dict())  # type: ignore[arg-type]
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        reason = request.POST.get("reason", "")
        messages.success(request, action_done_message(action, life, reason=reason))
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


def _admin_button(
    request: HttpRequest, act: Callable[[], object], *, done: str, back: str
) -> HttpResponse:
    """An admin's button on a page: do it, say what happened or why not, go back there."""
    try:
        act()
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, done)
    return redirect(back)


@page_for(ADMIN)
@require_POST
def webhook_test(request: HttpRequest, pk: int) -> HttpResponse:
    hook = get_object_or_404(Webhook, pk=pk)
    return _admin_button(
        request,
        lambda: webhooks.webhook_send_test(hook),
        done=_("A test message is on its way; its answer shows in the log."),
        back=reverse("webhook", args=[pk]),
    )


@page_for(ADMIN)
@require_POST
def webhook_delivery_resend(request: HttpRequest, pk: int, delivery_id: int) -> HttpResponse:
    hook = get_object_or_404(Webhook, pk=pk)
    return _admin_button(
        request,
        lambda: webhooks.webhook_delivery_resend(hook, delivery_id),
        done=_("The delivery is being sent again."),
        back=reverse("webhook", args=[pk]),
    )


@page_for(ADMIN)
@require_POST
def notification_retry(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    return _admin_button(
        request,
        lambda: notifications.notification_retry(kind, pk),
        done=_("The notification is being sent again."),
        back=reverse("webhooks"),
    )
