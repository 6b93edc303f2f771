"""Qualification as scores arrive: scoring's "scores changed" fills handoff's own queue, and
the handoff task qualifies the nurturing leads that pass the policy or raised a hand, a batch
at a time: one transaction and a fixed number of queries per batch, with the results of
qualifying them one by one in lead-id order."""

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from mqlapp.leads.models import Event, User
from mqlapp.leads.selectors import events_vouched
from mqlapp.leads.services import task_kick
from scoring import engine
from scoring.engine.conditions import name_key
from scoring.models import LeadScore
from scoring.selectors import backfill_scoring
from scoring.services import track_names_where

from .assignment import assignees_next, assignments_record
from .lifecycle import Stage, sla_due
from .models import Assignment, LeadLifecycle, MqlPolicy, Qualification, QualifyQueue
from .services import mql_passes, policy_get, transitions_record

# Every column of the lifecycle row (the lead's own row is read only for assignment).
LIFECYCLE_COLUMNS = tuple(f.name for f in LeadLifecycle._meta.concrete_fields)


def qualify_enqueue(lead_ids: Iterable[int], *, bulk: bool = False) -> None:
    """scoring's `scores_computed` hook: in scoring's transaction, queue the leads; the
    handoff task runs after commit (append-only rows: scoring never waits on handoff).
    `bulk`: a back-fill's leads, qualified after live ones and in full batches."""
    if not QualifyQueue.append(lead_ids, bulk=bulk):
        return
    from .tasks import leads_qualify_pending as task  # noqa: PLC0415 (tasks import this module)

    transaction.on_commit(lambda: task_kick(task.name))


def leads_qualify_pending(
    *, limit: int = 500, bulk_first: bool = False, now: datetime | None = None
) -> int:
    """Qualify one batch of queued leads (live or back-fill: `LeadQueue.claim`); returns how
    many leads were looked at. While scoring still has a back-fill's leads to score, that
    back-fill's leads are qualified only `limit` at a time (or once the first has waited
    QUALIFY_BULK_WAIT_SECONDS): scoring hands them over a hundred at a time, and a batch
    costs about as much to qualify whatever its size (docs/handoff.md); the last scoring
    batch's kick finds scoring done and takes the rest."""
    now = now or timezone.now()
    least = limit if backfill_scoring() else 0
    with transaction.atomic():
        ids = QualifyQueue.claim(
            limit=limit,
            bulk_first=bulk_first,
            bulk_least=least,
            bulk_wait=settings.QUALIFY_BULK_WAIT_SECONDS,
        )
        if ids:
            leads_qualify(ids, now=now)
    return len(ids)


def leads_qualify(lead_ids: Iterable[int], *, now: datetime) -> list[int]:
    """Qualify the nurturing leads among `lead_ids` that pass the policy (their stored score)
    or raised a hand, exactly once per cycle, in one transaction; returns the ids moved."""
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
    chosen = by_score | fast
    return mql_qualify_many(
        chosen,
        scores={pk: scores.get(pk, Decimal(0)) for pk in chosen},
        reasons={pk: "threshold" if pk in by_score else "fast_track" for pk in chosen},
        now=now,
        policy=policy,
    )


def fast_track_leads(lead_ids: set[int], *, policy: MqlPolicy) -> set[int]:
    """Leads with a fast-track event since their score epoch that may raise their hand."""
    names = [n.strip() for n in policy.fast_track_events if n.strip()]
    if not lead_ids or not names:
        return set()
    wanted = {name_key(n) for n in names}
    # "Since the epoch" as an anti-join on scoring's row by its key: joining through the lead
    # (lead__scoring__epoch) read every lead and score row of the table for each batch.
    before_epoch = LeadScore.objects.filter(
        lead_id=OuterRef("lead_id"), epoch__gt=OuterRef("timestamp")
    )
    rows = Event.objects.filter(lead_id__in=lead_ids, type="track")
    if connection.vendor == "postgresql":
        # Only the events of these names (read from the index on track names), not every
        # track event of the leads; Python then applies the exact rule. (The embedded SQLite
        # default has neither the index nor the functions: Python alone decides there.)
        table = connection.ops.quote_name(Event._meta.db_table)
        named, params = track_names_where(wanted, alias=table)
        rows = rows.extra(where=[named], params=params)  # noqa: S610 (fixed SQL; names are parameters)
    # a copied browser key raises no one's hand
    rows = rows.exclude(Exists(before_epoch)).filter(events_vouched())
    # The engine's name rule decides what "an event named X" is (one definition).
    return {
        lead_id
        for lead_id, name in rows.values_list("lead_id", "name").distinct()
        if name_key(name) in wanted
    }


def mql_qualify_many(
    lead_ids: Iterable[int],
    *,
    scores: Mapping[int, Decimal],
    reasons: Mapping[int, str],
    now: datetime,
    policy: MqlPolicy | None = None,
) -> list[int]:
    """nurturing → mql for each of `lead_ids` still nurturing, exactly once per cycle, in one
    transaction and a fixed number of queries however many leads; returns the ids it moved.

    The nurturing rows are locked in lead-id order (`FOR UPDATE` re-reads a row another
    qualification changed meanwhile, and skips it: it is no longer nurturing), and the unique
    (lead, cycle) Qualification proves it. The leads are then handled as if one by one in
    lead-id order: the same reps in the same rotation, the same rows, emails and webhooks.
    A lead with a score epoch (recycled before) needs an event since that epoch: old
    activity never brings it back.
    """
    policy = policy or policy_get()
    ids = sorted(set(lead_ids))
    if not ids:
        return []
    with transaction.atomic():
        lives = _nurturing_lock(ids)
        if not lives:
            return []
        owners: list[User | None] = [None] * len(lives)
        if policy.assignment == MqlPolicy.Assignment.ROUND_ROBIN:
            owners = assignees_next([life.lead for life in lives])
        due = sla_due(now, hours=policy.sla_hours)
        for life, owner in zip(lives, owners, strict=True):
            life.stage, life.mql_at, life.sla_due_at = Stage.MQL, now, due
            life.cycle += 1
            life.owner = owner
        _lifecycles_qualified_save(lives, now=now, due=due)
        assignments_record(
            [life for life in lives if life.owner is not None],
            why=Assignment.Why.ROUND_ROBIN,
            now=now,
        )
        Qualification.objects.bulk_create(
            [
                Qualification(
                    lead_id=life.lead_id,
                    cycle=life.cycle,
                    at=now,
                    score=scores[life.lead_id],
                    reason=reasons[life.lead_id],
                    owner=life.owner,
                    sla_due_at=due,
                )
                for life in lives
            ]
        )
        transitions_record(
            lives,
            action="qualify_mql",
            from_stage=Stage.NURTURING,
            now=now,
            scores=scores,
            reasons=reasons,
        )
    return [life.lead_id for life in lives]


def _nurturing_lock(lead_ids: list[int]) -> list[LeadLifecycle]:
    """The nurturing rows of these leads that may qualify, locked in lead-id order (no
    deadlock between overlapping batches), with what assignment reads of each lead."""
    activity = Event.objects.filter(
        lead_id=OuterRef("lead_id"),
        type__in=engine.EVERY_EVENT,
        timestamp__gte=OuterRef("lead__scoring__epoch"),
    )
    return list(
        LeadLifecycle.objects.select_for_update(of=("self",))
        .filter(lead_id__in=lead_ids, stage=Stage.NURTURING)
        .filter(Q(lead__scoring__epoch__isnull=True) | Q(Exists(activity)))
        .select_related("lead")
        .only(*LIFECYCLE_COLUMNS, "lead__country", "lead__employees")
        .order_by("lead_id")
    )


def _lifecycles_qualified_save(lives: list[LeadLifecycle], *, now: datetime, due: datetime) -> None:
    """One UPDATE for the batch: the stage, times and next cycle are the same for every row,
    the owner comes from a VALUES list joined on the lead (Django's bulk_update would write a
    CASE per row). Like the single-row UPDATE it replaces, `updated_at` is left alone."""
    table = LeadLifecycle._meta.db_table
    ops = connection.ops
    # SQLite allows 999 parameters per statement (Django's figure); PostgreSQL has no limit.
    size = (connection.features.max_query_params or 2 * len(lives) + 8) // 2 - 4
    with connection.cursor() as cursor:
        for start in range(0, len(lives), size):
            chunk = lives[start : start + size]
            values = ", ".join(["(%s, CAST(%s AS bigint))"] * len(chunk))
            params: list[Any] = [v for life in chunk for v in (life.lead_id, life.owner_id)]
            # Only fixed SQL fragments are joined here; every value is a bound parameter.
            cursor.execute(
                f"WITH v (lead_id, owner_id) AS (VALUES {values}) "  # noqa: S608
                f"UPDATE {table} SET stage = %s, mql_at = %s, sla_due_at = %s, "
                f"cycle = {table}.cycle + 1, owner_id = v.owner_id "
                f"FROM v WHERE {table}.lead_id = v.lead_id AND {table}.stage = %s",
                [
                    *params,
                    Stage.MQL.value,
                    ops.adapt_datetimefield_value(now),
                    ops.adapt_datetimefield_value(due),
                    Stage.NURTURING.value,
                ],
            )
