"""Server-rendered pages: scoring rules editor, MQL policy with the simulator, CSV imports."""

import json
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from handoff.models import MqlPolicy
from handoff.services import policy_get, policy_update
from handoff.simulation import simulation_run
from mqlapp.leads.errors import DomainError, InvalidInput
from mqlapp.leads.ingest import imports
from mqlapp.leads.ingest.csvfile import (
    FileInvalid,
    decode,
    mapping_resolve,
    records,
    with_event_column,
)
from mqlapp.leads.ingest.uploads import size_text, upload_refused
from mqlapp.leads.models import ImportJob, Source
from mqlapp.leads.roles import ADMIN, MARKETER, user_role
from scoring.engine.conditions import as_number
from scoring.models import ScoringRule
from scoring.selectors import rescore_job_latest
from scoring.services import (
    rule_as_dict,
    rule_create,
    rule_delete,
    rule_update,
    rules_draft_parse,
)

from .access import forbidden
from .dashboard import score_columns

KINDS = ("behavior", "fit", "inactivity")
_NUMBER_FIELDS = (
    "points",
    "max_times",
    "window_days",
    "half_life_days",
    "expire_after_days",
    "inactive_days",
)
_TEXT_FIELDS = ("event", "after_event")
_ACTIVE_IMPORTS = (ImportJob.Status.QUEUED, ImportJob.Status.RUNNING)


def _can_edit_scoring(request: HttpRequest) -> bool:
    return user_role(request.user) in (MARKETER, ADMIN)


def _errors(exc: DomainError) -> dict[str, list[str]]:
    fields = exc.extra.get("fields") if isinstance(exc, InvalidInput) else None
    return {str(k): [str(m) for m in v] for k, v in (fields or {}).items()}


# --- scoring rules ---------------------------------------------------------------------------


def _rule_data(post: Any) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The rules API's JSON for the form's fields; problems the form itself can see."""
    problems: dict[str, list[str]] = {}
    data: dict[str, Any] = {"name": post.get("name", "").strip(), "kind": post.get("kind", "")}
    for name in _TEXT_FIELDS:
        data[name] = post.get(name, "").strip() or None
    for name in _NUMBER_FIELDS:
        data[name] = post.get(name, "").strip() or None
    text = post.get("conditions", "").strip()
    try:
        data["conditions"] = json.loads(text) if text else []
    except ValueError:
        data["conditions"] = []
        problems["conditions"] = [_('Write the conditions as JSON, e.g. [{"field": ...}].')]
    watch = post.get("watch_events", "")
    data["watch_events"] = [part.strip() for part in watch.split(",") if part.strip()]
    data["active"] = post.get("active") == "on"
    return data, problems


def _rule_form_values(data: dict[str, Any]) -> dict[str, Any]:
    """What the form's inputs show for rule data (JSON for conditions, commas for events)."""
    values = {k: ("" if v is None else v) for k, v in data.items()}
    values["conditions"] = json.dumps(data.get("conditions") or [], ensure_ascii=False, default=str)
    values["watch_events"] = ", ".join(data.get("watch_events") or [])
    return values


def rules_preview(data: dict[str, Any], *, rule: ScoringRule | None) -> dict[str, Any]:
    """The simulator's answer for the live rules with `data` added (or replacing `rule`),
    at the current policy's threshold and minimum fit."""
    draft = [
        {"id": live.pk, **rule_as_dict(live)}
        for live in ScoringRule.objects.filter(active=True).order_by("id")
        if rule is None or live.pk != rule.pk
    ]
    draft.append({**data, "id": rule.pk} if rule is not None else data)
    return simulation_run(rules=rules_draft_parse(draft))


@login_required
def rules_page(request: HttpRequest) -> HttpResponse:
    if not _can_edit_scoring(request):
        return forbidden(request)
    return render(
        request,
        "console/rules.html",
        {"rules": ScoringRule.objects.order_by("name", "id"), "job": rescore_job_latest()},
    )


@login_required
def rule_form_page(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """New rule (pk None) or edit; the "preview" button simulates, "save" saves."""
    if not _can_edit_scoring(request):
        return forbidden(request)
    rule = get_object_or_404(ScoringRule, pk=pk) if pk is not None else None
    errors: dict[str, list[str]] = {}
    preview = None
    if request.method == "POST":
        data, errors = _rule_data(request.POST)
        if not errors:
            try:
                if request.POST.get("preview"):
                    preview = rules_preview(data, rule=rule)
                elif rule is None:
                    rule_create(data=data)
                    messages.success(request, _("Rule saved. Every lead is being re-scored."))
                    return redirect("rules")
                else:
                    rule_update(rule, data=data)
                    messages.success(request, _("Rule saved. Every lead is being re-scored."))
                    return redirect("rules")
            except DomainError as exc:
                errors = _errors(exc) or {"non_field_errors": [exc.message]}
        # a draft's problems are named rules[i].field: show them at the field
        errors = {key.rsplit(".", 1)[-1]: value for key, value in errors.items()}
        values = _rule_form_values(data)
    elif rule is not None:
        values = _rule_form_values(rule_as_dict(rule))
    else:
        values = _rule_form_values({"kind": "behavior", "active": True})
    return render(
        request,
        "console/rule_form.html",
        {
            "rule": rule,
            "values": values,
            "errors": errors,
            "preview": preview,
            "kinds": KINDS,
        },
        status=400 if errors else 200,
    )


@login_required
@require_POST
def rule_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Deactivate, activate or delete a rule."""
    if not _can_edit_scoring(request):
        return forbidden(request)
    rule = get_object_or_404(ScoringRule, pk=pk)
    if action == "delete":
        rule_delete(rule)
        messages.success(request, _("Rule deleted."))
    elif action in ("deactivate", "activate"):
        rule_update(rule, data={"active": action == "activate"})
        messages.success(request, _("Rule saved. Every lead is being re-scored."))
    else:
        return forbidden(request)
    return redirect("rules")


# --- MQL policy and simulator ----------------------------------------------------------------


def _policy_data(post: Any) -> dict[str, Any]:
    days = post.get("default_recycle_days", "").strip()
    return {
        "mql_threshold": post.get("mql_threshold", "").strip(),
        "min_fit": post.get("min_fit", "").strip() or None,
        "fast_track_events": [
            e.strip() for e in post.get("fast_track_events", "").split(",") if e.strip()
        ],
        "sla_hours": post.get("sla_hours", "").strip(),
        "assignment": post.get("assignment", ""),
        "reassign_on_breach": post.get("reassign_on_breach") == "on",
        "default_recycle_days": int(days) if days.isdigit() else days,
    }


def _simulation(threshold: Decimal, min_fit: Decimal | None) -> dict[str, Any]:
    result = simulation_run(threshold=threshold, min_fit=min_fit)
    result["chart"] = score_columns(
        result["histogram"], threshold=threshold, title=_("Score distribution"), width=640
    )
    result["backtest_rows"] = [
        {"kind": kind, **counts} for kind, counts in result["backtest"].items()
    ]
    return result


def _decimal_or(value: str, default: Decimal | None) -> Decimal | None:
    number = as_number(value)
    return default if number is None else number


@login_required
def policy_page(request: HttpRequest) -> HttpResponse:
    role = user_role(request.user)
    if role is None:
        return forbidden(request)
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        if role != ADMIN:
            return forbidden(request)
        try:
            policy_update(data=_policy_data(request.POST))
        except DomainError as exc:
            errors = _errors(exc) or {"non_field_errors": [exc.message]}
        else:
            messages.success(request, _("Policy saved."))
            return redirect("policy")
    policy = policy_get()
    can_simulate = role in (MARKETER, ADMIN)
    return render(
        request,
        "console/policy.html",
        {
            "policy": policy,
            "fast_track": ", ".join(policy.fast_track_events),
            "assignments": MqlPolicy.Assignment.choices,
            "can_edit": role == ADMIN,
            "can_simulate": can_simulate,
            "errors": errors,
            "sim": _simulation(policy.mql_threshold, policy.min_fit) if can_simulate else None,
        },
        status=400 if errors else 200,
    )


@login_required
@require_POST
def policy_simulate(request: HttpRequest) -> HttpResponse:
    """The simulator's partial for a threshold and minimum fit (htmx, on change)."""
    if not _can_edit_scoring(request):
        return forbidden(request)
    policy = policy_get()
    threshold = _decimal_or(request.POST.get("threshold", ""), policy.mql_threshold)
    raw_fit = request.POST.get("min_fit", "").strip()
    min_fit = _decimal_or(raw_fit, policy.min_fit) if raw_fit else None
    return render(
        request,
        "console/_simulation.html",
        {"sim": _simulation(threshold or Decimal(0), min_fit)},
    )


# --- CSV imports ------------------------------------------------------------------------------


def _jobs() -> dict[str, Any]:
    jobs = list(ImportJob.objects.defer("data").order_by("-id")[:50])
    for job in jobs:
        job.shown_errors = list(job.row_errors.order_by("row")[:20])  # type: ignore[attr-defined]
        job.error_count = job.row_errors.count()  # type: ignore[attr-defined]
    return {"jobs": jobs, "polling": any(job.status in _ACTIVE_IMPORTS for job in jobs)}


def _with_event(data: bytes, event: str) -> bytes:
    """The file with an `event` column holding `event` on every row (UTF-8; the rows keep
    their numbers, so row errors still point at the uploaded file's rows)."""
    try:
        text, _encoding = decode(data)
        mapping = mapping_resolve(records(text)[0])
    except FileInvalid as exc:
        raise InvalidInput(str(exc), fields={"file": [str(exc)]}) from exc
    if "event" in mapping.values():
        message = _("The file has an event column already; leave the event name empty.")
        raise InvalidInput(message, fields={"event": [message]})
    return with_event_column(text, event)


@login_required
def imports_page(request: HttpRequest) -> HttpResponse:
    if not _can_edit_scoring(request):
        return forbidden(request)
    errors: dict[str, list[str]] = {}
    status = 400
    if request.method == "POST":
        upload = request.FILES.get("file")  # streamed through LimitedUploadHandler
        source_id = request.POST.get("source", "")
        source = Source.objects.filter(pk=int(source_id)).first() if source_id.isdigit() else None
        event = request.POST.get("event", "").strip()[:200]
        if upload_refused(request):
            limit = size_text(settings.IMPORT_MAX_BYTES)
            message = _("The file is larger than the %(limit)s limit.") % {"limit": limit}
            errors, status = {"file": [message]}, 413
        elif upload is None:
            errors = {"file": [_("Choose a CSV file.")]}
        else:
            try:
                data = upload.read()
                job = imports.lead_import_create(
                    filename=upload.name or "",
                    data=_with_event(data, event) if event else data,
                    source=source,
                    user=request.user,  # type: ignore[arg-type]
                )
            except DomainError as exc:
                errors = _errors(exc) or {"file": [exc.message]}
            else:
                messages.success(request, _("Import %(id)s queued.") % {"id": job.pk})
                return redirect("imports")
    return render(
        request,
        "console/imports.html",
        {**_jobs(), "errors": errors, "sources": Source.objects.order_by("name")},
        status=status if errors else 200,
    )


@login_required
def imports_partial(request: HttpRequest) -> HttpResponse:
    """The job list alone; htmx polls it every 2 s while a job is queued or running."""
    if not _can_edit_scoring(request):
        return forbidden(request)
    return render(request, "console/_imports.html", _jobs())
