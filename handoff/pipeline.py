"""The scoring pipeline: drain the "leads to score" outbox, score with the engine, qualify."""

from collections.abc import Mapping
from datetime import datetime

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from mqlapp.leads.models import Event, Lead, Stage
from scoring import engine
from scoring.services import (
    leads_refresh,
    leads_score,
    rule_sets_for_scoring,
    rules_live,
    score_queue_claim,
    scores_refreshed,
)

from .models import MqlPolicy
from .services import mql_qualify, policy_get


def leads_score_pending(*, limit: int = 200, now: datetime | None = None) -> int:
    """Score one batch of queued leads and qualify those the policy says; returns batch size."""
    now = now or timezone.now()
    with transaction.atomic():
        # The rule set first (a share lock), then queue rows, then leads: a re-score swap
        # waits for this batch, and never holds what this batch waits for.
        sets = rule_sets_for_scoring()
        ids = score_queue_claim(limit=limit)
        if not ids:
            return 0
        scores = leads_score(ids, now=now, sets=sets)
        leads_qualify(scores, now=now)
    return len(ids)


def scores_refresh(*, batch: int = 1000) -> int:
    """Fading and inactivity change scores without events: re-score every lead in id
    batches, store what changed, qualify leads that now pass; returns how many changed."""
    started = timezone.now()
    if not engine.changes_with_time(rules_live()[1]):
        scores_refreshed(at=started)
        return 0
    after, changed = 0, 0
    while ids := list(
        Lead.objects.filter(pk__gt=after).order_by("pk").values_list("pk", flat=True)[:batch]
    ):
        after = ids[-1]
        now = timezone.now()
        with transaction.atomic():
            moved = leads_refresh(ids, now=now)
            leads_qualify(moved, now=now)
        changed += len(moved)
    scores_refreshed(at=started)
    return changed


def leads_qualify(scores: Mapping[int, engine.Score], *, now: datetime) -> list[int]:
    """Qualify the nurturing leads among `scores` that pass the policy or raised a hand."""
    policy = policy_get()
    nurturing = set(
        Lead.objects.filter(pk__in=list(scores), stage=Stage.NURTURING).values_list("pk", flat=True)
    )
    by_score = {
        pk
        for pk in nurturing
        if engine.qualifies(scores[pk], threshold=policy.mql_threshold, min_fit=policy.min_fit)
    }
    fast = fast_track_leads(nurturing - by_score, policy=policy)
    qualified = []
    for pk in sorted(by_score | fast):
        reason = "threshold" if pk in by_score else "fast_track"
        if mql_qualify(pk, score=scores[pk].score, reason=reason, now=now, policy=policy):
            qualified.append(pk)
    return qualified


def fast_track_leads(lead_ids: set[int], *, policy: MqlPolicy) -> set[int]:
    """Leads with a fast-track event since their score epoch."""
    names = [n.strip() for n in policy.fast_track_events if n.strip()]
    if not lead_ids or not names:
        return set()
    name_q = Q()
    for name in names:
        name_q |= Q(name__iexact=name)
    rows = Event.objects.filter(name_q, lead_id__in=lead_ids, type="track").filter(
        Q(lead__score_epoch__isnull=True) | Q(timestamp__gte=F("lead__score_epoch"))
    )
    return set(rows.values_list("lead_id", flat=True).distinct())
