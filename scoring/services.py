"""Scoring writes: compute leads' scores with the engine and store score, breakdown, history."""

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction

from mqlapp.errors import InvalidInput
from mqlapp.models import Event, Lead, ScoreQueue
from mqlapp.services import leads_score_enqueue

from . import engine
from .models import LeadScore, ScoreHistory, ScoringRule

RULE_FIELDS = (
    "name",
    "kind",
    "event",
    "conditions",
    "points",
    "max_times",
    "window_days",
    "half_life_days",
    "expire_after_days",
    "after_event",
    "watch_events",
    "inactive_days",
    "active",
)
SCORED_EVENT_TYPES = ("track", "page", "screen")


def rule_to_engine(rule: ScoringRule) -> engine.Rule:
    return engine.parse_rule(rule_as_dict(rule), rule_id=rule.pk)


def rule_as_dict(rule: ScoringRule) -> dict[str, Any]:
    return {name: getattr(rule, name) for name in RULE_FIELDS}


def rules_active() -> list[engine.Rule]:
    return [rule_to_engine(r) for r in ScoringRule.objects.filter(active=True).order_by("id")]


def _validated(data: Mapping[str, Any]) -> dict[str, Any]:
    try:
        parsed = engine.parse_rule(data)
    except engine.RuleInvalid as exc:
        raise InvalidInput("The rule is not valid.", fields=exc.errors) from exc
    return {
        "name": parsed.name,
        "kind": parsed.kind,
        "event": parsed.event,
        "conditions": [{"field": c.field, "op": c.op, "value": c.value} for c in parsed.conditions],
        "points": parsed.points,
        "max_times": parsed.max_times,
        "window_days": parsed.window_days,
        "half_life_days": parsed.half_life_days,
        "expire_after_days": parsed.expire_after_days,
        "after_event": parsed.after_event,
        "watch_events": list(parsed.watch_events),
        "inactive_days": parsed.inactive_days,
        "active": parsed.active,
    }


@transaction.atomic
def rule_create(*, data: Mapping[str, Any]) -> ScoringRule:
    rule = ScoringRule.objects.create(**_validated(data))
    leads_rescore_all()
    return rule


@transaction.atomic
def rule_update(rule: ScoringRule, *, data: Mapping[str, Any]) -> ScoringRule:
    merged = {**rule_as_dict(rule), **{k: v for k, v in data.items() if k in RULE_FIELDS}}
    for name, value in _validated(merged).items():
        setattr(rule, name, value)
    rule.save()
    leads_rescore_all()
    return rule


@transaction.atomic
def rule_delete(rule: ScoringRule) -> None:
    rule.delete()
    leads_rescore_all()


def leads_rescore_all() -> None:
    """Queue every lead for re-scoring (after a rule change; the workers drain the queue)."""
    leads_score_enqueue(Lead.objects.values_list("pk", flat=True))


def lead_facts(lead: Lead, events: Sequence[engine.EventFact]) -> engine.LeadFacts:
    return engine.LeadFacts(
        email=lead.email,
        company=lead.company,
        title=lead.title,
        department=lead.department,
        employees=lead.employees,
        country=lead.country,
        industry=lead.industry,
        traits=lead.traits,
        events=tuple(events),
        score_epoch=lead.score_epoch,
    )


def events_by_lead(lead_ids: Iterable[int]) -> dict[int, list[engine.EventFact]]:
    found: dict[int, list[engine.EventFact]] = defaultdict(list)
    rows = Event.objects.filter(
        lead_id__in=list(lead_ids), type__in=SCORED_EVENT_TYPES
    ).values_list("lead_id", "message_id", "type", "name", "timestamp", "properties", "context")
    for lead_id, message_id, kind, name, timestamp, properties, context in rows.iterator(2000):
        found[lead_id].append(
            engine.EventFact(
                id=message_id,
                type=kind,
                name=name,
                timestamp=timestamp,
                properties=properties,
                context=context,
            )
        )
    return found


def leads_score(
    lead_ids: Sequence[int], *, now: datetime, rules: Sequence[engine.Rule] | None = None
) -> dict[int, engine.Score]:
    """Score these leads now and store the results; returns the new scores by lead id."""
    rules = rules_active() if rules is None else rules
    leads = list(Lead.objects.filter(pk__in=lead_ids).select_for_update(of=("self",)))
    events = events_by_lead(lead.pk for lead in leads)
    scores: dict[int, engine.Score] = {}
    changed: list[Lead] = []
    history: list[ScoreHistory] = []
    details: list[LeadScore] = []
    for lead in leads:
        score = engine.evaluate(lead_facts(lead, events.get(lead.pk, [])), rules, now=now)
        scores[lead.pk] = score
        details.append(LeadScore(lead=lead, as_of=now, breakdown=breakdown_json(score)))
        if (lead.score, lead.engagement, lead.fit) != (score.score, score.engagement, score.fit):
            lead.score, lead.engagement, lead.fit = score.score, score.engagement, score.fit
            changed.append(lead)
            history.append(
                ScoreHistory(
                    lead=lead, at=now, score=score.score, engagement=score.engagement, fit=score.fit
                )
            )
    Lead.objects.bulk_update(changed, ["score", "engagement", "fit"], batch_size=500)
    ScoreHistory.objects.bulk_create(history, batch_size=500)
    LeadScore.objects.bulk_create(
        details,
        batch_size=500,
        update_conflicts=True,
        unique_fields=["lead"],
        update_fields=["breakdown", "as_of"],
    )
    return scores


def breakdown_json(score: engine.Score) -> list[dict[str, Any]]:
    return [
        {
            "rule_id": c.rule_id,
            "rule": c.rule,
            "kind": c.kind,
            "count": c.count,
            "points": float(c.points),
        }
        for c in score.breakdown
    ]


def score_queue_claim(*, limit: int) -> list[int]:
    """Take up to `limit` queued leads for this transaction (others skip them: SKIP LOCKED)."""
    ids = list(
        ScoreQueue.objects.select_for_update(skip_locked=True)
        .order_by("enqueued_at")
        .values_list("lead_id", flat=True)[:limit]
    )
    ScoreQueue.objects.filter(lead_id__in=ids).delete()
    return ids


def decimal2(value: Decimal | float) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))
