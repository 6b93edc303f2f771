"""The words people read for the codes the data stores: ONE table per choice set, used by every
page and template (the `label` filter) and by the browser test that looks for raw codes.

A code missing from its table is shown as it is, so a new code is visible (and caught by
tests/ui/test_no_raw_codes.py) rather than hidden."""

import re
from collections.abc import Mapping

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

LABELS: dict[str, Mapping[str, Promise | str]] = {
    # handoff.lifecycle.Stage
    "stage": {
        "nurturing": _("Nurturing"),
        "mql": pgettext_lazy("stage", "MQL"),
        "sal": pgettext_lazy("stage", "SAL (accepted)"),
        "sql": pgettext_lazy("stage", "SQL (opportunity)"),
        "won": _("Won"),
        "lost": _("Lost"),
        "recycled": _("Recycled"),
        "disqualified": _("Disqualified"),
    },
    # handoff.lifecycle.REASONS (reject and recycle)
    "reason": {
        "no_budget": _("No budget"),
        "no_authority": _("No decision authority"),
        "no_need": _("No need"),
        "bad_timing": _("Bad timing"),
        "bad_contact_data": _("Wrong contact data"),
        "competitor": _("Competitor"),
        "student_or_job_seeker": _("Student or job seeker"),
        "other": _("Other"),
        # why the system moved a lead (handoff.qualify, handoff.services.leads_reapproach_due)
        "threshold": _("Score reached the MQL threshold"),
        "fast_track": _("Fast track (a key action)"),
        "reapproach": _("Re-approach date came"),
    },
    # scoring.models.ScoringRule.Kind
    "rule_kind": {
        "behavior": _("Behaviour"),
        "fit": _("Fit"),
        "inactivity": _("Inactivity"),
    },
    # handoff.models.MqlPolicy.Assignment
    "assignment": {
        "round_robin": _("Round robin"),
        "manual": _("Manual (reps claim)"),
    },
    # handoff.models.Assignment.Why
    "assignment_why": {
        "round_robin": _("Round robin"),
        "claim": _("Claimed by the rep"),
        "admin": _("Assigned by an admin"),
        "accept": _("Accepted by the rep"),
        "sla_breach": _("Reassigned after an SLA breach"),
    },
    # mqlapp.leads.models.ImportJob.Status
    "import_status": {
        "queued": _("Queued"),
        "running": _("Running"),
        "done": _("Done"),
        "failed": _("Failed"),
    },
    # scoring.models.RescoreJob.State
    "rescore_state": {
        "queued": _("Queued"),
        "running": _("Running"),
        "done": _("Done"),
        "failed": _("Failed"),
        "superseded": _("Superseded by a newer job"),
        "idle": _("Idle"),
    },
    # handoff.models.WebhookDelivery.Status
    "delivery_status": {
        "pending": _("Pending"),
        "delivered": _("Delivered"),
        "failed": _("Failed"),
    },
    # handoff.notifications: a failing notification's status
    "notification_status": {
        "retrying": _("Retrying"),
        "failed": _("Failed"),
        "sent": _("Sent"),
    },
    # handoff.notifications.KINDS
    "notification_kind": {
        "assignment": _("Assignment"),
        "sla_breach": _("SLA breach"),
    },
    # scoring.models.ScoreHistory.Cause
    "score_cause": {
        "event": _("Events"),
        "time": _("Time (fading, inactivity)"),
        "rules": _("Rule change"),
    },
    # mqlapp.leads.models.Source.Kind
    "source_kind": {
        "browser": _("Browser (public key)"),
        "server": _("Server (secret key)"),
    },
    # mqlapp.leads.roles
    "role": {
        "marketer": _("Marketer"),
        "sales": _("Sales rep"),
        "admin": _("Admin"),
    },
    # handoff.backtest outcomes
    "outcome": {
        "accepted": _("Accepted"),
        "rejected": _("Rejected"),
        "won": _("Won"),
        "lost": _("Lost"),
    },
    # handoff.lifecycle.WEBHOOK_EVENTS
    "webhook_event": {
        "lead.mql": _("Became an MQL"),
        "lead.accepted": _("Accepted by sales"),
        "lead.qualified": _("Qualified (SQL)"),
        "lead.won": _("Won"),
        "lead.lost": _("Lost"),
        "lead.rejected": _("Rejected by sales"),
        "lead.recycled": _("Recycled"),
        "webhook.test": _("Test delivery"),
    },
}


def label(kind: str, code: object) -> str:
    """The words for `code` in choice set `kind`, in the active language."""
    if code is None or code == "":
        return "-"
    found = LABELS[kind].get(str(code))
    return str(found) if found is not None else str(code)


def choices(kind: str, codes: object = None) -> list[tuple[str, str]]:
    """(code, words) pairs for a <select>: every code of the set, or the given ones in order."""
    wanted = list(codes) if codes is not None else list(LABELS[kind])  # type: ignore[call-overload]
    return [(str(code), label(kind, code)) for code in wanted]


# --- import errors -----------------------------------------------------------------------------
# A CSV import's errors are stored and answered by the API as the importer wrote them (English,
# the API's language); the imports page shows them in the UI language with this table. A
# message it does not know is shown as it is.

LEAD_FIELDS: dict[str, Promise] = {
    "email": _("Email"),
    "last_name": _("Last name"),
    "first_name": _("First name"),
    "company": _("Company"),
    "department": _("Department"),
    "title": _("Title"),
    "phone": _("Phone"),
    "employees": _("Employees"),
    "country": _("Country"),
    "industry": _("Industry"),
    "timestamp": _("Date and time"),
    "name": _("Name"),
}

IMPORT_MESSAGES: list[tuple[re.Pattern[str], Promise]] = [
    (re.compile(r"Enter a valid email address\."), _("Enter a valid email address.")),
    (re.compile(r"an email address is required"), _("an email address is required")),
    (
        re.compile(r"Enter a phone number of 8 to 15 digits, such as 03-1234-5678\."),
        _("Enter a phone number of 8 to 15 digits, such as 03-1234-5678."),
    ),
    (re.compile(r"At most (?P<n>\d+) characters\."), _("At most %(n)s characters.")),
    (
        re.compile(r"employees must be a whole number such as 1200"),
        _("employees must be a whole number such as 1200"),
    ),
    (
        re.compile(r"the row holds bytes that are not valid text in the file's encoding"),
        _("the row holds bytes that are not valid text in the file's encoding"),
    ),
    (re.compile(r"the row holds a NUL character"), _("the row holds a NUL character")),
    (re.compile(r"not a date or time: (?P<value>.*)"), _("not a date or time: %(value)s")),
    (
        re.compile(r"The file is neither UTF-8 nor Shift_JIS \(CP932\) text\."),
        _("The file is neither UTF-8 nor Shift_JIS (CP932) text."),
    ),
    (
        re.compile(r"The file is empty: it needs a header row and rows of leads\."),
        _("The file is empty: it needs a header row and rows of leads."),
    ),
    (
        re.compile(r"No email column: name one メールアドレス or email, or map it \(mapping\)\."),
        _("No email column: name one メールアドレス or email, or map it (mapping)."),
    ),
    (
        re.compile(r"Line (?P<line>\d+) cannot be read as CSV: (?P<why>.*)"),
        _("Line %(line)s cannot be read as CSV: %(why)s"),
    ),
    (
        re.compile(r"mapping names unknown fields: (?P<fields>.*)"),
        _("mapping names unknown fields: %(fields)s"),
    ),
]
_FIELD_PREFIX = re.compile(r"(?P<field>[a-z_]+): (?P<rest>.*)", re.DOTALL)


def _import_message(text: str) -> str:
    for pattern, words in IMPORT_MESSAGES:
        found = pattern.fullmatch(text)
        if found:
            return str(words) % found.groupdict() if found.groupdict() else str(words)
    prefixed = _FIELD_PREFIX.fullmatch(text)
    if prefixed and prefixed["field"] in LEAD_FIELDS:
        field = str(LEAD_FIELDS[prefixed["field"]])
        return f"{field}: {_import_message(prefixed['rest'])}"
    return text


def import_error(text: object) -> str:
    """An import's error as the importer wrote it, in the active language: "email: Enter a
    valid email address.; phone: ..." → "メールアドレス: 有効なメールアドレスを…; 電話番号: …"."""
    return "; ".join(_import_message(part) for part in str(text).split("; "))
