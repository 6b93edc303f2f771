"""The MQL policy (one row), stage changes, qualifications (one per cycle), assignment state."""

from decimal import Decimal

from django.db import models

from mqlapp.models import Lead, Stage, User


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

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["lead", "cycle"], name="one_qualification_per_cycle")
        ]


class AssignmentCursor(models.Model):
    """Where round robin stands; a single row locked while choosing the next rep."""

    last_user = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL)
