"""Emails: the rep an MQL is assigned to, and admins when an MQL breaches its SLA."""

from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from mqlapp.leads.models import Lead, User
from mqlapp.leads.roles import ADMIN
from mqlapp.leads.services import task_kick
from scoring.selectors import lead_score

from .models import Assignment, LeadView, Qualification, SlaBreach


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
        f"Score: {score.score:.2f} (engagement {score.engagement:.2f}, fit {score.fit:.2f})",
    ]
    for row in score.breakdown:
        lines.append(f"  {row['points']:+.2f}  {row['rule']} (x{row['count']})")
    lines += ["", settings.APP_BASE_URL.rstrip("/") + reverse("lead", args=[lead.pk])]
    return "\n".join(line for line in lines if line is not None)


def assignment_notify(assignment_id: int) -> bool:
    """Email the rep once per assignment; a failed send rolls back, so a retry sends it."""
    with transaction.atomic():
        row = (
            Assignment.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("user", "lead")
            .filter(pk=assignment_id, notify=True, notified_at__isnull=True)
            .first()
        )
        if row is None:
            return False
        row.notified_at = timezone.now()
        row.save(update_fields=["notified_at"])
        if not row.user.email:
            return False
        lead = LeadView.objects.get(pk=row.lead_id)
        qualification = Qualification.objects.filter(
            lead=lead, cycle=row.cycle, merged_from__isnull=True
        ).first()
        why = {
            Assignment.Why.SLA_BREACH: "It was reassigned to you: the previous rep's SLA passed.",
            Assignment.Why.ADMIN: "An admin assigned it to you.",
        }.get(row.why, "It was assigned to you.")  # type: ignore[call-overload]
        score = qualification.score if qualification else lead.score
        due = (
            timezone.localtime(lead.sla_due_at).strftime("%Y-%m-%d %H:%M")
            if lead.sla_due_at
            else "-"
        )
        send_mail(
            subject=f"[mqlapp] New MQL: {lead_name(lead)} ({lead.company or '-'}) score {score}",
            message=f"{why}\nAccept or reject it by {due}.\n\n{lead_summary(lead)}\n",
            from_email=None,
            recipient_list=[row.user.email],
        )
    return True


def sla_breach_notify(breach_id: int) -> bool:
    """Email every admin once about a breach."""
    with transaction.atomic():
        breach = (
            SlaBreach.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("lead", "owner", "reassigned_to")
            .filter(pk=breach_id, notified_at__isnull=True)
            .first()
        )
        if breach is None:
            return False
        breach.notified_at = timezone.now()
        breach.save(update_fields=["notified_at"])
        admins = list(
            User.objects.filter(Q(groups__name=ADMIN) | Q(is_superuser=True), is_active=True)
            .exclude(email="")
            .values_list("email", flat=True)
            .distinct()
        )
        if not admins:
            return False
        lead = breach.lead
        owner = breach.owner.username if breach.owner else "nobody (shared pool)"
        moved = (
            f"It was reassigned to {breach.reassigned_to.username}."
            if breach.reassigned_to
            else "It was not reassigned."
        )
        due = timezone.localtime(breach.due_at).strftime("%Y-%m-%d %H:%M")
        send_mail(
            subject=f"[mqlapp] SLA breached: {lead_name(lead)} ({lead.company or '-'})",
            message=f"This MQL was not accepted or rejected by {due}.\nOwner: {owner}. {moved}\n\n"
            f"{lead_summary(lead)}\n",
            from_email=None,
            recipient_list=sorted(set(admins)),
        )
    return True


def notifications_resend(*, now: datetime | None = None, grace: int = 60) -> int:
    """Sweep: kick notifications whose after-commit send was lost (broker down)."""
    before = (now or timezone.now()) - timedelta(seconds=grace)
    count = 0
    for pk in Assignment.objects.filter(
        notify=True, notified_at__isnull=True, at__lte=before
    ).values_list("pk", flat=True)[:500]:
        task_kick("handoff.tasks.assignment_notify", pk)
        count += 1
    for pk in SlaBreach.objects.filter(notified_at__isnull=True, at__lte=before).values_list(
        "pk", flat=True
    )[:500]:
        task_kick("handoff.tasks.sla_breach_notify", pk)
        count += 1
    return count
