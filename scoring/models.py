"""Scoring's tables: rules, one score row per lead, score history, the "leads to score" queue,
the published rule set, re-score jobs."""

from django.db import models
from django.db.models.functions import Now

from mqlapp.leads.models import Lead
from mqlapp.leads.queue import LeadQueue


class ScoringRule(models.Model):
    class Kind(models.TextChoices):
        BEHAVIOR = "behavior"
        FIT = "fit"
        INACTIVITY = "inactivity"

    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.BEHAVIOR)
    # None: no event (fit rules); the API answers null, not "" (SPEC §4)
    event = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    conditions = models.JSONField(default=list, blank=True)
    points = models.DecimalField(max_digits=12, decimal_places=2)
    max_times = models.PositiveIntegerField(null=True, blank=True)
    window_days = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    half_life_days = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    expire_after_days = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    after_event = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001 (as event)
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
    """A lead's current score, its breakdown and its score epoch: one row per lead, created
    with the lead (core hook) and written by scoring only."""

    lead = models.OneToOneField(
        Lead, primary_key=True, on_delete=models.CASCADE, related_name="scoring"
    )
    score = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    engagement = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    fit = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    # Engagement counts events from here on (a recycle moves it; SPEC §5).
    epoch = models.DateTimeField(null=True, blank=True)
    breakdown = models.JSONField(default=list)
    as_of = models.DateTimeField(null=True, blank=True)
    # The published rule set (ScoringState.version) this breakdown was computed with.
    rules_version = models.PositiveBigIntegerField(default=0)
    # The last point written to ScoreHistory: time-driven changes add a point only when the
    # score moved at least a point from it, or a day passed (docs/scoring.md).
    history_score = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    history_at = models.DateTimeField(null=True, blank=True)
    # The earliest moment this score can change without new events (engine.next_change:
    # fading, expiry, inactivity); None: never. The hourly refresh visits only the leads
    # whose moment has come. Written with every score; a row written without one (a new
    # lead, a write that does not know it) defaults to "now": due at the next refresh.
    next_change_at = models.DateTimeField(null=True, blank=True, db_default=Now())
    # What the hourly refresh moves the score forward from without reading the events
    # (engine.refade), as of `as_of`: each fading rule's [rule_id, events from the future,
    # summed weights as a decimal string]; `discrete_at`: the first moment anything else can
    # change (engine.FadeState). Written with `as_of`; NULL means "evaluate the events".
    fades = models.JSONField(null=True, blank=True, default=None)
    discrete_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["-score"]),
            # The refresh's keyset: due rows in (next_change_at, lead_id) order.
            models.Index(fields=["next_change_at", "lead"], name="score_next_change_at"),
            # The few leads with an epoch (recycled): the simulator's SQL pass reads a
            # range's epochs through it instead of every score row of the range.
            models.Index(
                fields=["lead"], name="score_epoch_set", condition=models.Q(epoch__isnull=False)
            ),
        ]


class ScoreQueue(LeadQueue):
    """The "leads to score" queue: appended in the writer's transaction (events stored, lead
    data changed, epoch moved), drained by the scoring task (mqlapp/leads/queue.py)."""


class ScoreHistory(models.Model):
    """A point of a lead's score over time; written when the score changes."""

    class Cause(models.TextChoices):
        EVENT = "event"  # new events or changed lead data
        TIME = "time"  # fading and inactivity (the periodic refresh)
        RULES = "rules"  # a rule change, applied by a re-score job

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="score_history")
    at = models.DateTimeField()
    score = models.DecimalField(max_digits=14, decimal_places=2)
    engagement = models.DecimalField(max_digits=14, decimal_places=2)
    fit = models.DecimalField(max_digits=14, decimal_places=2)
    cause = models.CharField(max_length=10, choices=Cause.choices, default=Cause.EVENT)

    class Meta:
        indexes = [models.Index(fields=["lead", "at"])]


class RescoreJob(models.Model):
    """Re-scoring every lead after rule changes: scores are built aside, then swapped in."""

    class State(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"
        SUPERSEDED = "superseded"  # a newer rule change started a newer job

    state = models.CharField(max_length=12, choices=State.choices, default=State.QUEUED)
    reason = models.CharField(max_length=500, blank=True, default="")
    requests = models.PositiveIntegerField(default=1, help_text="Rule changes it covers.")
    # The active rules when the job started (validated rule dicts with ids).
    rules = models.JSONField(default=list, blank=True)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0)
    # Leads are scored in id order up to last_lead_id; cursor is the last id done.
    cursor = models.BigIntegerField(default=0)
    last_lead_id = models.BigIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["state", "id"])]


class RescoreResult(models.Model):
    """A lead's score under a running job's rules, waiting to be swapped in all at once."""

    job = models.ForeignKey(RescoreJob, on_delete=models.CASCADE, related_name="results")
    # No foreign key: a lead deleted meanwhile is simply not swapped in.
    lead_id = models.BigIntegerField()
    score = models.DecimalField(max_digits=14, decimal_places=2)
    engagement = models.DecimalField(max_digits=14, decimal_places=2)
    fit = models.DecimalField(max_digits=14, decimal_places=2)
    breakdown = models.JSONField(default=list)
    as_of = models.DateTimeField()
    # engine.next_change under the job's rules, swapped in with the score ("now" if unknown).
    next_change_at = models.DateTimeField(null=True, blank=True, db_default=Now())
    # LeadScore.fades and discrete_at under the job's rules, swapped in with the score.
    fades = models.JSONField(null=True, blank=True, default=None)
    discrete_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["job", "lead_id"], name="one_result_per_job_lead")
        ]


class ScoringState(models.Model):
    """One row (pk=1): the rule set live scores use, and the job building the next one.

    Scoring a batch reads this row FOR SHARE; starting and finishing a re-score lock it FOR
    UPDATE, so a batch is scored wholly under one rule set, and while a job builds, every
    batch also writes the job's score (docs/scoring.md).
    """

    version = models.PositiveBigIntegerField(default=0)
    rules = models.JSONField(default=list, blank=True)
    building_job = models.ForeignKey(
        RescoreJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # When the periodic refresh last re-evaluated every lead.
    refreshed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
