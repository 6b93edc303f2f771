"""Scoring rules as marketers define them, and each lead's latest breakdown and score history."""

from django.db import models

from mqlapp.models import Lead


class ScoringRule(models.Model):
    class Kind(models.TextChoices):
        BEHAVIOR = "behavior"
        FIT = "fit"
        INACTIVITY = "inactivity"

    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.BEHAVIOR)
    event = models.CharField(max_length=200, null=True, blank=True)
    conditions = models.JSONField(default=list, blank=True)
    points = models.DecimalField(max_digits=12, decimal_places=2)
    max_times = models.PositiveIntegerField(null=True, blank=True)
    window_days = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    half_life_days = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    expire_after_days = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    after_event = models.CharField(max_length=200, null=True, blank=True)
    watch_events = models.JSONField(default=list, blank=True)
    inactive_days = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name


class LeadScore(models.Model):
    """The breakdown behind a lead's current score (the score itself is on the lead)."""

    lead = models.OneToOneField(
        Lead, primary_key=True, on_delete=models.CASCADE, related_name="score_detail"
    )
    breakdown = models.JSONField(default=list)
    as_of = models.DateTimeField()


class ScoreHistory(models.Model):
    """A point of a lead's score over time; written when the score changes."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="score_history")
    at = models.DateTimeField()
    score = models.DecimalField(max_digits=14, decimal_places=2)
    engagement = models.DecimalField(max_digits=14, decimal_places=2)
    fit = models.DecimalField(max_digits=14, decimal_places=2)

    class Meta:
        indexes = [models.Index(fields=["lead", "at"])]
