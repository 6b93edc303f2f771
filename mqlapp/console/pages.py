"""Server-rendered pages: scoring rules editor, MQL policy with the simulator, CSV imports."""

import json
import math
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
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
from mqlapp.leads.selectors import event_names_seen
from scoring import engine
from scoring.engine.conditions import as_number
from scoring.models import RescoreJob, ScoringRule
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
from .labels import choices as label_choices

KINDS = engine.KINDS
# What each kind of rule means, in words a marketer reads in the kind <select>.
KIND_WORDS = {
    "behavior": gettext_lazy("Behaviour: points for what the lead does (visits, downloads…)"),
    "fit": gettext_lazy("Fit: points for who the lead is (company, title, size…)"),
    "inactivity": gettext_lazy("Inactivity: points (usually minus) after a period of silence"),
}
KIND_SHORT = {
    "behavior": gettext_lazy("Behaviour"),
    "fit": gettext_lazy("Fit"),
    "inactivity": gettext_lazy("Inactivity"),
}
# The condition operators in words (SPEC §4); the order is the engine's.
OP_WORDS = {
    "eq": gettext_lazy("is"),
    "ne": gettext_lazy("is not"),
    "in": gettext_lazy("is one of (comma-separated)"),
    "contains": gettext_lazy("contains"),
    "startswith": gettext_lazy("starts with"),
    "endswith": gettext_lazy("ends with"),
    "gt": gettext_lazy("is more than"),
    "gte": gettext_lazy("is at least"),
    "lt": gettext_lazy("is less than"),
    "lte": gettext_lazy("is at most"),
    "exists": gettext_lazy("is present (true / false)"),
}
RESCORE_WORDS = {
    "queued": gettext_lazy("Queued"),
    "running": gettext_lazy("Running"),
    "done": gettext_lazy("Done"),
    "failed": gettext_lazy("Failed"),
    "superseded": gettext_lazy("Superseded by a newer job"),
}
# Condition fields offered while typing (any properties.* / context.* / traits.* is allowed).
EVENT_FIELD_HINTS = (
    "properties.category",
    "properties.title",
    "properties.url",
    "properties.path",
    "properties.name",
    "context.campaign.name",
    "context.campaign.source",
    "context.page.url",
)
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
_ACTIVE_RESCORE = (RescoreJob.State.QUEUED, RescoreJob.State.RUNNING)
_EVENT_NAMES_DAYS = 90
_TRUE_WORDS = ("", "true", "yes", "1", "はい")


def _can_edit_scoring(request: HttpRequest) -> bool:
    return user_role(request.user) in (MARKETER, ADMIN)


def _errors(exc: DomainError) -> dict[str, list[str]]:
    fields = exc.extra.get("fields") if isinstance(exc, InvalidInput) else None
    return {str(k): [str(m) for m in v] for k, v in (fields or {}).items()}


# --- scoring rules ---------------------------------------------------------------------------


def _condition_value(op: str, text: str) -> Any:
    """A builder row's value as the rules API takes it: a list for `in`, true / false (or
    nothing) for `exists`, else the text (the engine compares numeric text as a number)."""
    if op == "in":
        return [part.strip() for part in text.split(",") if part.strip()]
    if op == "exists":
        return None if not text else text.casefold() in _TRUE_WORDS
    return text


def _condition_rows(post: Any) -> list[dict[str, str]]:
    """The builder's rows as posted (field, op, value text); rows without a field are blank."""
    fields, ops, values = (post.getlist(f"cond_{n}") for n in ("field", "op", "value"))
    return [
        {"field": f.strip(), "op": o.strip(), "value": v.strip()}
        for f, o, v in zip(fields, ops, values, strict=False)
    ]


def _rule_data(post: Any) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The rules API's JSON for the form's fields; problems the form itself can see. Options
    the chosen kind does not take are left out (the form hides them: engine.kind_uses)."""
    problems: dict[str, list[str]] = {}
    kind = post.get("kind", "")
    data: dict[str, Any] = {"name": post.get("name", "").strip(), "kind": kind}
    for name in _TEXT_FIELDS:
        data[name] = post.get(name, "").strip() or None
    for name in _NUMBER_FIELDS:
        data[name] = post.get(name, "").strip() or None
    if "cond_field" in post:
        data["conditions"] = [
            {
                "field": row["field"],
                "op": row["op"],
                "value": _condition_value(row["op"], row["value"]),
            }
            for row in _condition_rows(post)
            if row["field"]
        ]
    else:  # a client posting the API's JSON (the form before the builder did)
        text = post.get("conditions", "").strip()
        try:
            data["conditions"] = json.loads(text) if text else []
        except ValueError:
            data["conditions"] = []
            problems["conditions"] = [_('Write the conditions as JSON, e.g. [{"field": ...}].')]
    watch = post.get("watch_events", "")
    data["watch_events"] = [part.strip() for part in watch.split(",") if part.strip()]
    data["active"] = post.get("active") == "on"
    if kind in KINDS:
        for name in (*_TEXT_FIELDS, *_NUMBER_FIELDS, "watch_events"):
            if not engine.kind_uses(kind, name):
                data[name] = [] if name == "watch_events" else None
    return data, problems


def _row_text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _rule_form_values(
    data: dict[str, Any], rows: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    """What the form's inputs show for rule data (builder rows for conditions, commas for
    events); always at least one row to fill in."""
    values = {k: ("" if v is None else v) for k, v in data.items()}
    if rows is None:
        conditions = data.get("conditions")
        rows = [
            {
                "field": str(c.get("field", "")),
                "op": str(c.get("op", "eq")),
                "value": _row_text(c.get("value")),
            }
            for c in (conditions if isinstance(conditions, list) else [])
            if isinstance(c, dict)
        ]
    values["rows"] = rows or [{"field": "", "op": "eq", "value": ""}]
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
    return simulation_run(rules=rules_draft_parse(draft), backtest=False)


def _event_suggestions() -> list[str]:
    """Event names for the editor's suggestions: "page", those the rules use, those seen
    in the last 90 days (bounded: mqlapp.leads.selectors.event_names_seen)."""
    names: dict[str, None] = {"page": None}
    for event, after, watch in ScoringRule.objects.values_list(
        "event", "after_event", "watch_events"
    ):
        for name in (event, after, *(watch or [])):
            if name:
                names[name] = None
    since = timezone.now() - timedelta(days=_EVENT_NAMES_DAYS)
    names.update(dict.fromkeys(event_names_seen(since=since)))
    return list(names)


def _rescore_context() -> dict[str, Any]:
    job = rescore_job_latest()
    return {
        "job": job,
        "job_state": RESCORE_WORDS.get(job.state, job.state) if job else "",
        "rescore_polling": bool(job and job.state in _ACTIVE_RESCORE),
    }


@login_required
def rules_page(request: HttpRequest) -> HttpResponse:
    if not _can_edit_scoring(request):
        return forbidden(request)
    rules = list(ScoringRule.objects.order_by("name", "id"))
    for rule in rules:
        rule.kind_words = KIND_SHORT.get(rule.kind, rule.kind)  # type: ignore[attr-defined]
    return render(request, "console/rules.html", {"rules": rules, **_rescore_context()})


@login_required
def rescore_partial(request: HttpRequest) -> HttpResponse:
    """The latest re-score's progress alone; htmx polls it every 2 s while it runs."""
    if not _can_edit_scoring(request):
        return forbidden(request)
    return render(request, "console/_rescore.html", _rescore_context())


@login_required
def rule_form_page(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """New rule (pk None) or edit; the "preview" button simulates, "save" saves."""
    if not _can_edit_scoring(request):
        return forbidden(request)
    rule = get_object_or_404(ScoringRule, pk=pk) if pk is not None else None
    errors: dict[str, list[str]] = {}
    preview = None
    rows = None
    if request.method == "POST":
        data, errors = _rule_data(request.POST)
        if "cond_field" in request.POST:
            rows = [r for r in _condition_rows(request.POST) if r["field"] or r["value"]]
        if request.POST.get("add_condition"):  # the builder without JavaScript
            rows = [*(rows or []), {"field": "", "op": "eq", "value": ""}]
            errors = {}
        elif request.POST.get("remove_condition", "").isdigit():
            index = int(request.POST["remove_condition"])
            rows = [r for i, r in enumerate(_condition_rows(request.POST)) if i != index]
            errors = {}
        elif not errors:
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
        values = _rule_form_values(data, rows)
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
            "kinds": [(kind, KIND_WORDS[kind]) for kind in KINDS],
            "ops": list(OP_WORDS.items()),
            "event_names": _event_suggestions(),
            "fit_fields": [*sorted(engine.FIT_FIELDS), "traits."],
            "event_fields": EVENT_FIELD_HINTS,
            "uses": {
                name: [kind for kind in KINDS if engine.kind_uses(kind, name)]
                for name in (*_TEXT_FIELDS, *_NUMBER_FIELDS, "watch_events")
            },
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


FINE_SLIDER = 1000  # up to this many points the threshold slider moves one point at a time


def threshold_range(histogram: list[dict[str, Any]], threshold: Decimal) -> dict[str, int]:
    """The threshold slider's range: the current scores' span (and the threshold), with a
    quarter of headroom above, rounded up to a round number."""
    low = min([0.0, *(row["from"] for row in histogram[:1])])
    top = max([float(threshold), *(row["to"] for row in histogram[-1:])])
    if top <= 0:
        return {"min": math.floor(low), "max": 100, "step": 1}
    top *= 1.25
    unit = 10 ** max(0, math.floor(math.log10(top)) - 1) * 5  # 5, 50, 500 ... steps
    high = max(10, math.ceil(top / unit) * unit)
    return {"min": math.floor(low), "max": high, "step": 1 if high <= FINE_SLIDER else unit // 5}


def _simulation(threshold: Decimal, min_fit: Decimal | None) -> dict[str, Any]:
    result = simulation_run(threshold=threshold, min_fit=min_fit)
    result["chart"] = score_columns(
        result["histogram"], threshold=threshold, title=_("Score distribution"), width=640
    )
    result["range"] = threshold_range(result["histogram"], threshold)
    result["backtest_rows"] = [
        {"kind": kind, **counts} for kind, counts in result["backtest"].items()
    ]
    result["backtest_empty"] = not any(row["total"] for row in result["backtest_rows"])
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
            "assignments": label_choices("assignment", MqlPolicy.Assignment.values),
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
    # the policy form's own threshold (admin) or the simulator's (marketer): one threshold
    raw = request.POST.get("mql_threshold", request.POST.get("threshold", ""))
    threshold = _decimal_or(raw, policy.mql_threshold)
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
