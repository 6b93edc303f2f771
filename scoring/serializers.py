"""The shapes of the scoring API's answers and bodies: each one renders the answer and, through
drf-spectacular, is its OpenAPI description."""

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from mqlapp.leads.api.fields import KeywordNamesMixin, MomentField

from .models import RescoreJob, ScoreHistory, ScoringRule
from .selectors import RescoreIdle, ScoreSummary
from .services import RULE_FIELDS


class RuleSerializer(serializers.ModelSerializer[ScoringRule]):
    """A scoring rule."""

    # Also the body of a create or change, which `rule_validate` checks.

    points = serializers.FloatField()
    window_days = serializers.FloatField(allow_null=True)
    half_life_days = serializers.FloatField(allow_null=True)
    expire_after_days = serializers.FloatField(allow_null=True)
    inactive_days = serializers.FloatField(allow_null=True)

    class Meta:
        model = ScoringRule
        fields = ("id", *RULE_FIELDS, "created_at", "updated_at")


class RescoreJobSerializer(serializers.Serializer[RescoreJob | RescoreIdle]):
    """Progress of the re-score job that applies rule changes. Before any job the state is
    "idle" and only `id` (null), `state`, `total` and `done` are given."""

    id = serializers.IntegerField(allow_null=True)
    state = serializers.ChoiceField(choices=[RescoreIdle.state, *RescoreJob.State.values])
    total = serializers.IntegerField(help_text="leads to re-score")
    done = serializers.IntegerField(help_text="leads re-scored so far")
    changed = serializers.IntegerField(required=False, help_text="leads whose score changed")
    reason = serializers.CharField(required=False)
    requests = serializers.IntegerField(required=False, help_text="rule changes it covers")
    created_at = MomentField(required=False)
    started_at = MomentField(required=False, allow_null=True)
    finished_at = MomentField(required=False, allow_null=True)
    error = serializers.CharField(required=False)

    def to_representation(self, instance: RescoreJob | RescoreIdle) -> dict[str, Any]:
        shown = super().to_representation(instance)
        return {name: value for name, value in shown.items() if hasattr(instance, name)}


class RuleAnswerSerializer(RuleSerializer):
    """A rule as written, with the re-score job that applies the change."""

    # The latest job (it covers every change so far), given as `context["rescore"]`.
    rescore = serializers.SerializerMethodField()

    class Meta(RuleSerializer.Meta):
        fields = (*RuleSerializer.Meta.fields, "rescore")  # type: ignore[assignment]

    @extend_schema_field(RescoreJobSerializer(allow_null=True))
    def get_rescore(self, rule: ScoringRule) -> dict[str, Any] | None:
        job = self.context.get("rescore")
        return None if job is None else RescoreJobSerializer(job).data


class ScoreContributionSerializer(serializers.Serializer[Any]):
    """What one rule added to a score (a stored breakdown entry)."""

    rule_id = serializers.IntegerField()
    rule = serializers.CharField()
    kind = serializers.ChoiceField(choices=ScoringRule.Kind.choices)
    count = serializers.IntegerField()
    points = serializers.FloatField()


class LeadScoreSerializer(serializers.Serializer[ScoreSummary]):
    """A lead's score; the breakdown's points add up to it."""

    score = serializers.FloatField()
    engagement = serializers.FloatField()
    fit = serializers.FloatField()
    as_of = MomentField(allow_null=True)
    breakdown = ScoreContributionSerializer(many=True)


class ScorePointSerializer(serializers.ModelSerializer[ScoreHistory]):
    """A point of a lead's score over time, and what moved it."""

    at = MomentField()
    score = serializers.FloatField()
    engagement = serializers.FloatField()
    fit = serializers.FloatField()
    cause = serializers.ChoiceField(choices=ScoreHistory.Cause.choices)

    class Meta:
        model = ScoreHistory
        fields = ("at", "score", "engagement", "fit", "cause")


class HistogramBucketSerializer(KeywordNamesMixin, serializers.Serializer[Any]):
    """Leads with a simulated score in [from, to)."""

    from_ = serializers.FloatField()
    to = serializers.FloatField()
    count = serializers.IntegerField()


class BacktestCountSerializer(serializers.Serializer[Any]):
    would_qualify = serializers.IntegerField()
    total = serializers.IntegerField()


class BacktestSerializer(serializers.Serializer[Any]):
    """Of the leads sales accepted / rejected / won / lost, how many the draft would have
    qualified when they were handed over."""

    accepted = BacktestCountSerializer()
    rejected = BacktestCountSerializer()
    won = BacktestCountSerializer()
    lost = BacktestCountSerializer()


class SimulateBodySerializer(serializers.Serializer[Any]):
    """What to try instead of the live rules and policy."""

    rules = serializers.ListField(
        child=serializers.DictField(),
        required=False,
        allow_null=True,
        help_text="draft rules in the rules API's format; omitted: the live rules",
    )
    mql_threshold = serializers.FloatField(required=False, help_text="omitted: the policy's")
    min_fit = serializers.FloatField(
        required=False, allow_null=True, help_text="omitted: the policy's"
    )


class SimulateAnswerSerializer(serializers.Serializer[Any]):
    """What the draft would do, computed without touching live data."""

    leads_evaluated = serializers.IntegerField()
    would_qualify = serializers.IntegerField()
    currently_mql_or_later = serializers.IntegerField()
    newly_qualified = serializers.IntegerField()
    no_longer_qualified = serializers.IntegerField(
        help_text="MQLs waiting for sales that qualify today and would not under the draft "
        "(never a lead already accepted or later, never a fast-track MQL)"
    )
    scores_changed = serializers.IntegerField(
        help_text="leads whose score (to 2 decimals) would differ from the stored one"
    )
    histogram = HistogramBucketSerializer(many=True)
    backtest = BacktestSerializer()
    mql_threshold = serializers.FloatField()
    min_fit = serializers.FloatField(allow_null=True)
    rules_evaluated = serializers.IntegerField()
    rules_reused = serializers.IntegerField()
    as_of = MomentField()
