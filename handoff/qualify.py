"""Qualification as scores arrive: scoring's "scores changed" fills handoff's own queue, and
the handoff task qualifies the nurturing leads that pass the policy or raised a hand."""

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from mqlapp.leads.models import Event
from mqlapp.leads.services import task_kick
from scoring.engine.conditions import name_key
from scoring.models import LeadScore

from .lifecycle import Stage
from .models import LeadLifecycle, MqlPolicy, QualifyQueue
from .services import mql_passes, mql_qualify, policy_get


def qualify_enqueue(lead_ids: Iterable[int]) -> None:
    """scoring's `scores_computed` hook: in scoring's transaction, queue the leads; the
    handoff task runs after commit (append-only rows: scoring never waits on handoff)."""
    if not QualifyQueue.append(lead_ids):
        return
    from .tasks import leads_qualify_pending as task  # noqa: PLC0415 (tasks import this module)

    transaction.on_commit(lambda: task_kick(task.name))


def leads_qualify_pending(*, limit: int = 500, now: datetime | None = None) -> int:
    """Qualify one batch of queued leads; returns how many leads were looked at."""
    now = now or timezone.now()
    with transaction.atomic():
        ids = QualifyQueue.claim(limit=limit)
        if ids:
            leads_qualify(ids, now=now)
    return len(ids)


def leads_qualify(lead_ids: Iterable[int], *, now: datetime) -> list[int]:
    """Qualify the nurturing leads among `lead_ids` that pass the policy (their stored score)
    or raised a hand; each in its own transaction, exactly once per cycle."""
    policy = policy_get()
    nurturing = set(
        LeadLifecycle.objects.filter(lead_id__in=list(lead_ids), stage=Stage.NURTURING).values_list(
            "lead_id", flat=True
        )
    )
    stored = {
        pk: (score, fit)
        for pk, score, fit in LeadScore.objects.filter(lead_id__in=nurturing).values_list(
            "lead_id", "score", "fit"
        )
    }
    scores = {pk: score for pk, (score, _) in stored.items()}
    by_score = {pk for pk, (score, fit) in stored.items() if mql_passes(score, fit, policy)}
    fast = fast_track_leads(nurturing - by_score, policy=policy)
    qualified = []
    for pk in sorted(by_score | fast):
        reason = "threshold" if pk in by_score else "fast_track"
        if mql_qualify(pk, score=scores.get(pk, Decimal(0)), reason=reason, now=now, policy=policy):
            qualified.append(pk)
    return qualified


def fast_track_leads(lead_ids: set[int], *, policy: MqlPolicy) -> set[int]:
    """Leads with a fast-track event since their score epoch."""
    names = [n.strip() for n in policy.fast_track_events if n.strip()]
    if not lead_ids or not names:
        return set()
    wanted = {name_key(n) for n in names}
    rows = Event.objects.filter(lead_id__in=lead_ids, type="track").filter(
        Q(lead__scoring__epoch__isnull=True) | Q(timestamp__gte=F("lead__scoring__epoch"))
    )
    # The engine's name rule decides what "an event named X" is (one definition).
    return {
        lead_id
        for lead_id, name in rows.values_list("lead_id", "name").distinct()
        if name_key(name) in wanted
    }
