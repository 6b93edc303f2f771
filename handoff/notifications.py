"""Emails: the rep an MQL is assigned to, and admins when an MQL breaches its SLA; a failed
send is retried a bounded number of times, then kept as failed for an admin to retry."""

import logging
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import DatabaseError, transaction
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from mqlapp.leads.errors import InvalidTransition, NotFound
from mqlapp.leads.models import Lead, User
from mqlapp.leads.roles import ADMIN
from mqlapp.leads.services import task_kick
from scoring.selectors import lead_score

from .models import Assignment, LeadView, NotifyState, Qualification, SlaBreach

log = logging.getLogger(__name__)

# A notification is tried at most this many times by itself (the first try, then after each
# delay below); then it is failed, listed for admins, and sent again only when one asks.
MAX_ATTEMPTS = 5
BACKOFF = (60, 300, 900, 3600)  # seconds before tries 2, 3, 4 and 5: about 80 minutes
SUBJECT_MAX = 200
# Line breaks (CR, LF, NEL, U+2028/9) and every other control character, with the spaces
# around them: each run becomes one space.
_CONTROL = re.compile(r"\s*[\x00-\x1f\x7f-\x9f\u2028\u2029]+\s*")

# kind (as the API and pages name it) → the table and the task that sends it
KINDS: dict[str, tuple[type[Assignment] | type[SlaBreach], str]] = {
    "assignment": (Assignment, "handoff.tasks.assignment_notify"),
    "sla_breach": (SlaBreach, "handoff.tasks.sla_breach_notify"),
}


def header_value(text: str) -> str:
    """One line of text for a mail header, whatever the lead data holds: Django refuses a
    header with a line break (BadHeaderError), and a laxer mailer would let it add headers."""
    return _CONTROL.sub(" ", text).strip()[:SUBJECT_MAX]


def lead_name(lead: Lead) -> str:
    """Family name first, as Japanese B2B teams write it."""
    return " ".join(p for p in (lead.last_name, lead.first_name) if p) or lead.email


def lead_summary(lead: Lead) -> str:
    score = lead_score(lead)
    lines = [
        lead_name(lead),
        f"{lead.company} {lead.department} {lead.title}".strip(),
        lead.email,
        lead.phone,
        "",
        _("Score: %(score).2f (engagement %(engagement).2f, fit %(fit).2f)")
        % {"score": score.score, "engagement": score.engagement, "fit": score.fit},
    ]
    for row in score.breakdown:
        lines.append(f"  {row['points']:+.2f}  {row['rule']} (x{row['count']})")
    lines += ["", settings.APP_BASE_URL.rstrip("/") + reverse("lead", args=[lead.pk])]
    return "\n".join(line for line in lines if line is not None)


Mail = dict[str, Any]


def _due(rows: QuerySet[Any], *, now: datetime) -> QuerySet[Any]:
    """Not sent, not given up, and its next try (if it failed before) is due."""
    return rows.filter(notified_at__isnull=True, notify_failed_at__isnull=True).filter(
        Q(notify_retry_at__isnull=True) | Q(notify_retry_at__lte=now)
    )


def _send(row: NotifyState, compose: Callable[[], Mail | None], *, now: datetime) -> bool:
    """Send `row`'s mail while its lock is held, so it goes once. A failed send is recorded on
    the row (tries, error, when to try again, or given up) instead of rolled back: a mail that
    can never go must not be tried for ever."""
    row.notified_at = now  # type: ignore[attr-defined]
    row.save(update_fields=["notified_at"])
    try:
        # in the site's language (LANGUAGE_CODE, Japanese by default), whatever the request's
        with translation.override(settings.LANGUAGE_CODE):
            mail = compose()
        if mail is None:
            return False
        send_mail(**mail, from_email=None)
    except DatabaseError:
        raise  # the transaction is broken: it rolls back, and the task's retry covers it
    except Exception as exc:  # noqa: BLE001 (any mail failure is recorded and bounded)
        _failed(row, exc, now=now)
        return False
    row.notify_attempts += 1
    row.notify_retry_at = None
    row.save(update_fields=["notify_attempts", "notify_retry_at"])
    return True


def _failed(row: NotifyState, exc: Exception, *, now: datetime) -> None:
    row.notified_at = None  # type: ignore[attr-defined]
    row.notify_attempts += 1
    row.notify_error = f"{type(exc).__name__}: {exc}"[:1000]
    kind = "assignment" if isinstance(row, Assignment) else "sla_breach"
    if row.notify_attempts >= MAX_ATTEMPTS:
        row.notify_failed_at = now
        row.notify_retry_at = None
        log.error(
            "notification %s %s failed %s times, given up (an admin may retry it): %s",
            kind, row.pk, row.notify_attempts, row.notify_error,
        )  # fmt: skip
    else:
        row.notify_retry_at = now + timedelta(seconds=BACKOFF[row.notify_attempts - 1])
        log.warning(
            "notification %s %s try %s failed, next at %s: %s",
            kind, row.pk, row.notify_attempts, row.notify_retry_at, row.notify_error,
        )  # fmt: skip
    row.save(
        update_fields=[
            "notified_at",
            "notify_attempts",
            "notify_error",
            "notify_retry_at",
            "notify_failed_at",
        ]
    )


def assignment_notify(assignment_id: int, *, now: datetime | None = None) -> bool:
    """Email the rep once per assignment; a failed send is tried again later (bounded)."""
    now = now or timezone.now()
    with transaction.atomic():
        row = (
            _due(Assignment.objects.select_for_update(skip_locked=True, of=("self",)), now=now)
            .select_related("user", "lead")
            .filter(pk=assignment_id, notify=True)
            .first()
        )
        if row is None:
            return False
        return _send(row, lambda: _assignment_mail(row), now=now)


def _assignment_mail(row: Assignment) -> Mail | None:
    if not row.user.email:
        return None
    lead = LeadView.objects.get(pk=row.lead_id)
    qualification = Qualification.objects.filter(
        lead=lead, cycle=row.cycle, merged_from__isnull=True
    ).first()
    why = {
        Assignment.Why.SLA_BREACH: _("It was reassigned to you: the previous rep's SLA passed."),
        Assignment.Why.ADMIN: _("An admin assigned it to you."),
    }.get(row.why, _("It was assigned to you."))  # type: ignore[call-overload]
    score = qualification.score if qualification else lead.score
    due = timezone.localtime(lead.sla_due_at).strftime("%Y-%m-%d %H:%M") if lead.sla_due_at else "-"
    return {
        "subject": header_value(
            _("[mqlapp] New MQL: %(name)s (%(company)s) score %(score)s")
            % {"name": lead_name(lead), "company": lead.company or "-", "score": score}
        ),
        "message": f"{why}\n"
        + _("Accept or reject it by %(due)s.") % {"due": due}
        + f"\n\n{lead_summary(lead)}\n",
        "recipient_list": [row.user.email],
    }


def sla_breach_notify(breach_id: int, *, now: datetime | None = None) -> bool:
    """Email every admin once about a breach; a failed send is tried again later (bounded)."""
    now = now or timezone.now()
    with transaction.atomic():
        breach = (
            _due(SlaBreach.objects.select_for_update(skip_locked=True, of=("self",)), now=now)
            .select_related("lead", "owner", "reassigned_to")
            .filter(pk=breach_id)
            .first()
        )
        if breach is None:
            return False
        return _send(breach, lambda: _breach_mail(breach), now=now)


def _admin_emails() -> list[str]:
    return sorted(
        set(
            User.objects.filter(Q(groups__name=ADMIN) | Q(is_superuser=True), is_active=True)
            .exclude(email="")
            .values_list("email", flat=True)
        )
    )


def _breach_mail(breach: SlaBreach) -> Mail | None:
    admins = _admin_emails()
    if not admins:
        return None
    lead = breach.lead
    owner = breach.owner.username if breach.owner else _("nobody (shared pool)")
    moved = (
        _("It was reassigned to %(user)s.") % {"user": breach.reassigned_to.username}
        if breach.reassigned_to
        else _("It was not reassigned.")
    )
    due = timezone.localtime(breach.due_at).strftime("%Y-%m-%d %H:%M")
    return {
        "subject": header_value(
            _("[mqlapp] SLA breached: %(name)s (%(company)s)")
            % {"name": lead_name(lead), "company": lead.company or "-"}
        ),
        "message": _("This MQL was not accepted or rejected by %(due)s.") % {"due": due}
        + "\n"
        + _("Owner: %(owner)s.") % {"owner": owner}
        + f" {moved}\n\n{lead_summary(lead)}\n",
        "recipient_list": admins,
    }


def notifications_resend(*, now: datetime | None = None, grace: int = 60) -> int:
    """Sweep: kick notifications whose after-commit send was lost (broker down) or whose next
    try is due; never one that was given up."""
    now = now or timezone.now()
    before = now - timedelta(seconds=grace)
    count = 0
    for kind, (model, task) in KINDS.items():
        rows = _due(model.objects.filter(at__lte=before), now=now)
        if kind == "assignment":
            rows = rows.filter(notify=True)
        for pk in rows.order_by("at").values_list("pk", flat=True)[:500]:
            task_kick(task, pk)
            count += 1
    return count


# --- failed notifications (admin) ------------------------------------------------------------


def notifications_failing(*, limit: int = 200) -> list[dict[str, Any]]:
    """Unsent notifications that failed at least once: "retrying" (a next try is due by
    itself) or "failed" (given up; an admin may retry), newest first."""
    found: list[dict[str, Any]] = []
    admins = ", ".join(_admin_emails())
    for kind, (model, _task) in KINDS.items():
        rows = (
            model.objects.filter(notified_at__isnull=True, notify_attempts__gt=0)
            .select_related(*(("lead", "user") if kind == "assignment" else ("lead",)))
            .order_by("-at")[:limit]
        )
        for row in rows:
            found.append(_failing_row(kind, row, admins=admins))
    found.sort(key=lambda r: r["at"], reverse=True)
    return found[:limit]


def _failing_row(kind: str, row: Assignment | SlaBreach, *, admins: str) -> dict[str, Any]:
    to = row.user.email if isinstance(row, Assignment) else admins
    return {
        "kind": kind,
        "id": row.pk,
        "lead": row.lead_id,
        "lead_email": row.lead.email,
        "to": to,
        "status": ("sent" if row.notified_at else "failed" if row.notify_failed_at else "retrying"),
        "attempts": row.notify_attempts,
        "error": row.notify_error,
        "at": row.at,
        "next_try_at": row.notify_retry_at,
        "failed_at": row.notify_failed_at,
    }


def notification_retry(kind: str, pk: int) -> dict[str, Any]:
    """An admin sends a given-up notification again: one try now; if it fails, it is failed
    again with the new error."""
    if kind not in KINDS:
        raise NotFound(f"unknown notification kind {kind!r}; use: {', '.join(KINDS)}")
    model, task = KINDS[kind]
    with transaction.atomic():
        row = model.objects.select_for_update().select_related("lead").filter(pk=pk).first()
        if row is None:
            raise NotFound(f"no {kind} notification {pk}")
        if row.notified_at is not None:
            raise InvalidTransition("This notification was sent; there is nothing to retry.")
        if row.notify_failed_at is None:
            raise InvalidTransition(
                "This notification has not failed for good: it is still tried by itself."
            )
        row.notify_failed_at = None
        row.notify_retry_at = None
        row.save(update_fields=["notify_failed_at", "notify_retry_at"])
        transaction.on_commit(lambda: task_kick(task, pk))
    row = model.objects.select_related("lead").get(pk=pk)
    return _failing_row(kind, row, admins=", ".join(_admin_emails()))
