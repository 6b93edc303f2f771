"""Re-score jobs: after rule changes every lead's new score is built aside, then swapped in.

A rule change asks for a job (`rescore_request`); quick successive changes share the job
that has not started yet. Starting snapshots the active rules and marks the job as the one
being built (ScoringState.building_job): from then on live scoring writes each lead's score
under the new rules into the job's results too, so results never go stale. The job scores
every lead in id order into RescoreResult; finishing swaps all results into the leads with
set-based statements and publishes the rules in one transaction: the lead list never shows
a mix of rule sets. A job that a newer one overtakes stops as `superseded`.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, F, Max, OuterRef, QuerySet
from django.db.models.functions import Least
from django.utils import timezone

from mqlapp.leads.models import Lead
from mqlapp.leads.services import task_kick

from .. import engine, hooks
from ..models import LeadScore, RescoreJob, RescoreResult, ScoreHistory
from .loader import events_load, lead_facts, leads_for_facts
from .scores import breakdown_json, fades_json, leads_score_enqueue, results_add
from .state import rules_parse, rules_snapshot, state_get, state_lock

RUN_TASK = "scoring.tasks.rescore_run"
BATCH = 1000
# A running job whose heartbeat is older than this is resumed by the sweep.
STALE_AFTER = timedelta(minutes=5)
State = RescoreJob.State


def _inline_max() -> int:
    """Up to this many leads a rule change is applied before the answer (no waiting)."""
    return int(getattr(settings, "SCORING_RESCORE_INLINE_MAX", 200))


def rescore_request(*, reason: str) -> RescoreJob:
    """Within a rule change's transaction: make sure a job will apply it, and return it."""
    latest = RescoreJob.objects.select_for_update().order_by("-id").first()
    if latest is not None and latest.state == State.QUEUED:
        latest.requests = F("requests") + 1
        latest.reason = f"{latest.reason}; {reason}"[-500:]
        latest.save(update_fields=["requests", "reason"])
        latest.refresh_from_db()
        return latest
    job = RescoreJob.objects.create(reason=reason[:500], total=Lead.objects.count())
    running = RescoreJob.objects.filter(state=State.RUNNING).exists()
    if job.total <= _inline_max() and not running:
        rescore_run(job.pk)
        job.refresh_from_db()
    else:
        transaction.on_commit(lambda: rescore_kick(job.pk))
    return job


def rescore_parts() -> int:
    """How many runners a job is started with (SCORING_RESCORE_PARTS, default 1), each a
    `rescore_run` task on the scoring queue that claims its own ranges of leads, on one
    machine or several. Every runner holds a scoring process until the job ends, so leave
    live scoring at least one: with a pool of N processes, at most N - 1 (docs/scaling.md)."""
    return max(1, int(getattr(settings, "SCORING_RESCORE_PARTS", 1)))


def rescore_kick(job_id: int) -> None:
    """Start a job's runners; each has its own number (kicks of the same task and arguments
    are sent once: mqlapp/leads/publisher.py)."""
    for part in range(rescore_parts()):
        task_kick(RUN_TASK, job_id, part)


def rescore_run(job_id: int, *, batch: int = BATCH) -> str:
    """Run a job to its end (the task body); calling it again resumes it or does nothing."""
    if rescore_start(job_id, now=timezone.now()):
        rescore_build(job_id, batch=batch)
        rescore_finish(job_id, now=timezone.now())
    return RescoreJob.objects.values_list("state", flat=True).get(pk=job_id)


def rescore_build(job_id: int, *, batch: int = BATCH) -> int:
    """One runner's share of a started job: claim and build ranges until none are left; how
    many batches it built."""
    steps = 0
    while rescore_step(job_id, now=timezone.now(), batch=batch):
        steps += 1
    return steps


@transaction.atomic
def rescore_start(job_id: int, *, now: datetime) -> bool:
    """Begin a queued job (snapshot the rules) or confirm a running one; False: nothing to do."""
    job = RescoreJob.objects.select_for_update().filter(pk=job_id).first()
    if job is None:
        return False
    state = state_lock()
    if job.state == State.RUNNING:
        return state.building_job_id == job.pk
    if job.state != State.QUEUED:
        return False
    if RescoreJob.objects.filter(pk__gt=job.pk).exists():
        _supersede(job, now=now)
        return False
    if state.building_job_id is not None:
        RescoreJob.objects.filter(pk=state.building_job_id, state=State.RUNNING).update(
            state=State.SUPERSEDED, finished_at=now
        )
    last = Lead.objects.aggregate(last=Max("pk"))["last"] or 0
    job.rules = rules_snapshot()
    job.last_lead_id = last
    job.total = Lead.objects.filter(pk__lte=last).count()
    job.state, job.started_at, job.heartbeat_at = State.RUNNING, now, now
    job.save()
    state.building_job = job
    state.save(update_fields=["building_job", "updated_at"])
    RescoreResult.objects.filter(job_id__lt=job.pk).delete()
    return True


def _supersede(job: RescoreJob, *, now: datetime) -> None:
    job.state, job.finished_at = State.SUPERSEDED, now
    job.save(update_fields=["state", "finished_at"])


def _claim(job_id: int, *, now: datetime, batch: int) -> tuple[int, int] | None:
    """Take the next `batch` leads after the job's cursor for this runner: (after, up to),
    lead ids. The cursor moves before the work, so runners in other processes or on other
    machines take other ranges. None when the cursor is at the end."""
    while True:
        job = RescoreJob.objects.filter(pk=job_id, state=State.RUNNING).first()
        if job is None:
            return None
        ahead = Lead.objects.filter(pk__gt=job.cursor, pk__lte=job.last_lead_id).order_by("pk")
        upto = list(ahead.values_list("pk", flat=True)[batch - 1 : batch]) or [job.last_lead_id]
        if not ahead.exists():
            return None
        moved = RescoreJob.objects.filter(pk=job.pk, state=State.RUNNING, cursor=job.cursor).update(
            cursor=upto[0], heartbeat_at=now
        )
        if moved:
            return job.cursor, upto[0]


def _results_analyze() -> None:
    """Fresh planner statistics for the results table before the statements that join it
    with every lead. It is emptied after every job, so autovacuum last saw it empty; with
    that estimate PostgreSQL scans it once per lead (seconds at 20,000 leads, hours at 1M)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {RescoreResult._meta.db_table}")


def _unbuilt(job: RescoreJob) -> QuerySet[Lead]:
    """The job's leads that have no result yet (live scoring's results count)."""
    built = RescoreResult.objects.filter(job_id=job.pk, lead_id=OuterRef("pk"))
    return Lead.objects.filter(pk__lte=job.last_lead_id).filter(~Exists(built))


def rescore_step(job_id: int, *, now: datetime, batch: int = BATCH) -> bool:
    """Score the next `batch` leads into the job's results; False when none are left.

    Several runners may work on one job at once (rescore_kick starts rescore_parts()):
    each claims its own range. Once every range is claimed, a runner builds what is still
    missing, which is a range whose runner died or one still in flight elsewhere (built
    twice then, the first result kept: both are the same function of the same data)."""
    job = RescoreJob.objects.filter(pk=job_id).first()
    if job is None or job.state != State.RUNNING:
        return False
    if state_get().building_job_id != job.pk:
        RescoreJob.objects.filter(pk=job.pk, state=State.RUNNING).update(
            state=State.SUPERSEDED, finished_at=now
        )
        return False
    claimed = _claim(job.pk, now=now, batch=batch)
    if claimed is None:
        _results_analyze()
        wanted = _unbuilt(job)
    else:
        low, high = claimed
        wanted = Lead.objects.filter(pk__gt=low, pk__lte=high)
    leads = list(leads_for_facts(wanted).order_by("pk")[:batch])
    if not leads:
        return claimed is not None  # an empty range (leads deleted): claim the next one
    rules = rules_parse(job.rules)
    events = events_load([lead.pk for lead in leads], plan=engine.needs(rules))
    scorer = engine.Scorer(rules)  # engine.evaluate, with the rules prepared once
    results = []
    for lead in leads:
        facts = lead_facts(lead, events.get(lead.pk, ()))
        # and its next change by time, and what the refresh moves it forward from
        score, until, state = scorer.evaluate_state(facts, now=now)
        results.append(
            (lead.pk, score.score, score.engagement, score.fit, breakdown_json(score), until,
             fades_json(state), state.discrete)
        )  # fmt: skip
    with transaction.atomic():
        # A result live scoring (or another runner) wrote meanwhile is as new: keep it.
        results_add(job.pk, results, now=now)
        moved = RescoreJob.objects.filter(pk=job.pk, state=State.RUNNING).update(
            done=Least(F("done") + len(leads), F("total")), heartbeat_at=now
        )
        if not moved:  # finished or superseded meanwhile: these results are not wanted
            transaction.set_rollback(True)
            return False
    return True


def rescore_finish(job_id: int, *, now: datetime) -> bool:
    """Swap a fully built job's scores into the leads and publish its rules; True when done."""
    with transaction.atomic():
        job = RescoreJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.state != State.RUNNING:
            return False
        state = state_lock()
        if state.building_job_id != job.pk:
            _supersede(job, now=now)
            return False
        _results_analyze()
        if _unbuilt(job).exists():
            return False
        changed = _swap(job)
        state.version, state.rules, state.building_job = job.pk, job.rules, None
        state.save(update_fields=["version", "rules", "building_job", "updated_at"])
        job.state, job.finished_at, job.heartbeat_at = State.DONE, now, now
        job.done, job.changed = job.total, changed
        job.save()
        transaction.on_commit(hooks.rules_published)
    # Leads created after the job started and never scored since (live scoring would have
    # built them): queue them, now that no score row is locked.
    with transaction.atomic():
        unseen = Lead.objects.filter(pk__gt=job.last_lead_id).exclude(
            pk__in=RescoreResult.objects.filter(job=job).values("lead_id")
        )
        leads_score_enqueue(list(unseen.values_list("pk", flat=True)))
    RescoreResult.objects.filter(job_id__lte=job.pk).delete()
    return True


def _swap(job: RescoreJob) -> int:
    """Set-based: history points, then scores and breakdowns from the job's results; returns
    how many leads' scores changed."""
    result, detail = RescoreResult._meta.db_table, LeadScore._meta.db_table
    history = ScoreHistory._meta.db_table
    differs = "(d.score <> r.score OR d.engagement <> r.engagement OR d.fit <> r.fit)"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Lock the score rows in id order first, as live scoring does: no deadlock.
            cursor.execute(
                f"SELECT d.lead_id FROM {detail} d JOIN {result} r ON r.lead_id = d.lead_id "  # noqa: S608
                "WHERE r.job_id = %s ORDER BY d.lead_id FOR UPDATE OF d",
                [job.pk],
            )
        cursor.execute(
            f"SELECT count(*) FROM {result} r JOIN {detail} d ON d.lead_id = r.lead_id "  # noqa: S608
            f"WHERE r.job_id = %s AND {differs}",
            [job.pk],
        )
        changed = int(cursor.fetchone()[0])
        cursor.execute(
            f"INSERT INTO {history} (lead_id, at, score, engagement, fit, cause) "  # noqa: S608
            f"SELECT r.lead_id, r.as_of, r.score, r.engagement, r.fit, %s "
            f"FROM {result} r JOIN {detail} d ON d.lead_id = r.lead_id "
            f"WHERE r.job_id = %s AND {differs}",
            [ScoreHistory.Cause.RULES, job.pk],
        )
        # SET sees the row as it was: the history columns compare with the old score.
        cursor.execute(
            f"UPDATE {detail} AS d SET score = r.score, engagement = r.engagement, "  # noqa: S608
            "fit = r.fit, breakdown = r.breakdown, as_of = r.as_of, rules_version = %s, "
            "next_change_at = r.next_change_at, fades = r.fades, discrete_at = r.discrete_at, "
            f"history_score = CASE WHEN {differs} THEN r.score ELSE d.history_score END, "
            f"history_at = CASE WHEN {differs} THEN r.as_of ELSE d.history_at END "
            f"FROM {result} r WHERE r.job_id = %s AND r.lead_id = d.lead_id",
            [job.pk, job.pk],
        )
    return changed


def rescore_fail(job_id: int, *, error: str, now: datetime) -> None:
    """A job hit a bug: record it, stop building (live scores keep the published rules)."""
    with transaction.atomic():
        job = RescoreJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.state not in (State.QUEUED, State.RUNNING):
            return
        state = state_lock()
        if state.building_job_id == job.pk:
            state.building_job = None
            state.save(update_fields=["building_job", "updated_at"])
        job.state, job.finished_at, job.error = State.FAILED, now, error[:2000]
        job.save(update_fields=["state", "finished_at", "error"])
    RescoreResult.objects.filter(job_id=job_id).delete()


def rescore_jobs_stalled(*, now: datetime) -> list[int]:
    """Jobs no runner is working on: queued for a minute, or running without a heartbeat."""
    queued = RescoreJob.objects.filter(
        state=State.QUEUED, created_at__lt=now - timedelta(minutes=1)
    )
    silent = RescoreJob.objects.filter(state=State.RUNNING, heartbeat_at__lt=now - STALE_AFTER)
    return sorted(
        set(queued.values_list("pk", flat=True)) | set(silent.values_list("pk", flat=True))
    )
