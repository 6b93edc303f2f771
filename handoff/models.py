"""Handoff's tables: the MQL policy (one row), one lifecycle row per lead, stage changes,
qualifications (one per cycle), assignment, SLA breaches, webhooks."""

from datetime import date, datetime
from decimal import Decimal

from django.db import models
from django.utils import timezone

from mqlapp.leads.models import Lead, User
from mqlapp.leads.queue import LeadQueue

from .lifecycle import Stage, is_overdue


class MqlPolicy(models.Model):
    """The agreement between marketing and sales; a single row (pk=1)."""

    class Assignment(models.TextChoices):
        ROUND_ROBIN = "round_robin"
        MANUAL = "manual"

    mql_threshold = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal(100))
    min_fit = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    fast_track_events = models.JSONField(default=list, blank=True)
    sla_hours = models.DecimalField(max_digits=8, decimal_places=2, default=Decimal(24))
    assignment = models.CharField(
        max_length=20, choices=Assignment.choices, default=Assignment.ROUND_ROBIN
    )
    reassign_on_breach = models.BooleanField(default=False)
    default_recycle_days = models.PositiveIntegerField(default=90)
    updated_at = models.DateTimeField(auto_now=True)


class LeadLifecycle(models.Model):
    """Where a lead stands with sales: one row per lead, created with the lead (core hook)
    and written by handoff only."""

    lead = models.OneToOneField(
        Lead, primary_key=True, on_delete=models.CASCADE, related_name="lifecycle"
    )
    stage = models.CharField(max_length=20, choices=Stage.choices, default=Stage.NURTURING)
    owner = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="owned_leads"
    )
    cycle = models.PositiveIntegerField(default=0, help_text="Qualification cycles so far.")
    mql_at = models.DateTimeField(null=True, blank=True)
    sla_due_at = models.DateTimeField(null=True, blank=True)
    reapproach_on = models.DateField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["stage", "sla_due_at"]),
            models.Index(fields=["owner", "stage"]),
        ]


class LeadViewManager(models.Manager["LeadView"]):
    def get_queryset(self) -> models.QuerySet["LeadView"]:
        return super().get_queryset().select_related("scoring", "lifecycle", "lifecycle__owner")


class LeadView(Lead):
    """Read model: a lead with its score (scoring's row) and its stage (handoff's row), for
    answers, pages and webhooks. Nothing writes through it; filter on `scoring__*` and
    `lifecycle__*`."""

    objects = LeadViewManager()  # type: ignore[misc]

    class Meta:
        proxy = True
        base_manager_name = "objects"

    @property
    def score(self) -> Decimal:
        return self.scoring.score

    @property
    def engagement(self) -> Decimal:
        return self.scoring.engagement

    @property
    def fit(self) -> Decimal:
        return self.scoring.fit

    @property
    def score_epoch(self) -> datetime | None:
        return self.scoring.epoch

    @property
    def stage(self) -> str:
        return self.lifecycle.stage

    @property
    def owner(self) -> User | None:
        return self.lifecycle.owner

    @property
    def owner_id(self) -> int | None:
        return self.lifecycle.owner_id

    @property
    def cycle(self) -> int:
        return self.lifecycle.cycle

    @property
    def mql_at(self) -> datetime | None:
        return self.lifecycle.mql_at

    @property
    def sla_due_at(self) -> datetime | None:
        return self.lifecycle.sla_due_at

    @property
    def reapproach_on(self) -> date | None:
        return self.lifecycle.reapproach_on

    @property
    def overdue(self) -> bool:
        return is_overdue(self.stage, self.sla_due_at, now=timezone.now())


class QualifyQueue(LeadQueue):
    """Leads whose score was just computed ("scores changed"), for handoff to qualify:
    appended by handoff's hook inside scoring's transaction, drained by handoff's task."""


class StageTransition(models.Model):
    """One stage change of a lead, kept for ever."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="transitions")
    from_stage = models.CharField(max_length=20, choices=Stage.choices)
    to_stage = models.CharField(max_length=20, choices=Stage.choices)
    at = models.DateTimeField()
    by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL)
    reason = models.CharField(max_length=50, blank=True, default="")
    note = models.TextField(blank=True, default="")
    score = models.DecimalField(max_digits=14, decimal_places=2)
    cycle = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["lead", "at"]), models.Index(fields=["to_stage", "at"])]


class Qualification(models.Model):
    """A lead became an MQL: exactly one row per lead and qualification cycle."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="qualifications")
    cycle = models.PositiveIntegerField()
    at = models.DateTimeField()
    score = models.DecimalField(max_digits=14, decimal_places=2)
    reason = models.CharField(max_length=20, default="threshold")  # or "fast_track"
    owner = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL)
    # This cycle's own SLA due time, as set when it qualified (the lead's current due time
    # belongs to its latest cycle, and a reassignment on breach restarts it).
    sla_due_at = models.DateTimeField(null=True, blank=True)
    # Set on rows that came from another lead merged into this one (their own cycles).
    merged_from = models.BigIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["lead", "cycle"],
                condition=models.Q(merged_from__isnull=True),
                name="one_qualification_per_cycle",
            )
        ]


class AssignmentCursor(models.Model):
    """Where round robin stands; a single row locked while choosing the next rep."""

    last_user = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL)
    # Weighted round robin state: {"V": "<fraction>", "v": {"<user id>": "<fraction>"}}.
    state = models.JSONField(default=dict, blank=True)


class RepProfile(models.Model):
    """Assignment settings of one sales rep: weight, cap on open MQLs, territories."""

    user = models.OneToOneField(
        User, primary_key=True, on_delete=models.CASCADE, related_name="rep"
    )
    weight = models.PositiveIntegerField(default=1)
    max_open_mqls = models.PositiveIntegerField(null=True, blank=True)
    # [{"countries": ["JP"], "employees_min": 100, "employees_max": null}, ...]; empty = any lead
    territories = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)


class NotifyState(models.Model):
    """Delivery state of one notification e-mail: tries so far, the last error, when the next
    try is due, and when it was given up (then an admin sees it and may retry it)."""

    notify_attempts = models.PositiveIntegerField(default=0)
    notify_error = models.TextField(blank=True, default="")
    notify_retry_at = models.DateTimeField(null=True, blank=True)
    notify_failed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True


class Assignment(NotifyState):
    """Who an MQL was given to, when and why; the rep is emailed once per row."""

    class Why(models.TextChoices):
        ROUND_ROBIN = "round_robin"
        CLAIM = "claim"
        ADMIN = "admin"
        ACCEPT = "accept"
        SLA_BREACH = "sla_breach"

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="assignments")
    cycle = models.PositiveIntegerField()
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="assignments")
    at = models.DateTimeField()
    why = models.CharField(max_length=20, choices=Why.choices)
    by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="assignments_made"
    )
    notify = models.BooleanField(default=True)
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [
            models.Index(fields=["lead", "cycle"]),
            models.Index(
                fields=["at"],
                condition=models.Q(notify=True, notified_at__isnull=True),
                name="assignment_unnotified",
            ),
        ]


class SlaBreach(NotifyState):
    """An MQL passed its SLA due time; one row per deadline, so admins hear of it once."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="sla_breaches")
    cycle = models.PositiveIntegerField()
    due_at = models.DateTimeField()
    at = models.DateTimeField()
    owner = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reassigned_to = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    notified_at = models.DateTimeField(null=True, blank=True)
    merged_from = models.BigIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["lead", "cycle", "due_at"],
                condition=models.Q(merged_from__isnull=True),
                name="one_breach_per_deadline",
            )
        ]


class Webhook(models.Model):
    """An endpoint that receives lifecycle events, signed the Standard Webhooks way."""

    url = models.URLField(max_length=2000)
    events = models.JSONField(default=list)
    secret = models.CharField(max_length=100)
    active = models.BooleanField(default=True)
    # Why it was switched off by the system (a 410 Gone answer), for admins to read.
    disabled_reason = models.CharField(max_length=300, blank=True, default="")
    disabled_at = models.DateTimeField(null=True, blank=True)
    secret_rotated_at = models.DateTimeField(null=True, blank=True)
    description = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]


class WebhookDelivery(models.Model):
    """One message to one webhook (the outbox row); retried under the same webhook-id."""

    class Status(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event_type = models.CharField(max_length=40)
    msg_id = models.CharField(max_length=64, unique=True)
    payload = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    # Times an admin sent it again after it failed; such a try is not retried by itself.
    resends = models.PositiveIntegerField(default=0)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["webhook", "-created_at"]),
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status="pending"),
                name="webhook_delivery_due",
            ),
        ]


class WebhookAttempt(models.Model):
    """One try of a delivery: what was sent when, and what came back."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="tries")
    number = models.PositiveIntegerField()
    at = models.DateTimeField()
    webhook_timestamp = models.BigIntegerField()
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    response_body = models.TextField(blank=True, default="")
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["number"]
        constraints = [
            models.UniqueConstraint(fields=["delivery", "number"], name="one_attempt_per_number")
        ]
