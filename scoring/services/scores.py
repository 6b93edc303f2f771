"""Live scoring: drain the "leads to score" queue, score under the published rules, store what
changed, and tell the apps above (`scoring.hooks.scores_computed`)."""

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any, Final, NamedTuple

import orjson
from django.conf import settings
from django.db import connection, transaction
from django.db.models import TextField
from django.db.models.functions import Cast
from django.utils import timezone

from mqlapp.leads.ingest.inbox import inbox_expanding
from mqlapp.leads.services import task_kick
from mqlapp.leads.sqlparams import id_array, json_param

from .. import engine, hooks
from ..models import LeadScore, RescoreResult, ScoreHistory, ScoreQueue
from . import fading
from .loader import events_load, lead_profiles
from .state import RuleSets, rule_sets_for_scoring, rules_live, scores_refreshed

# Time-driven changes (fading, inactivity) add a history point only when the score moved at
# least this much since the last point, or the last point is this old: the chart stays
# faithful and the table small (every lead would otherwise get a point every hour).
HISTORY_MIN_DELTA = Decimal("1.00")
HISTORY_MIN_INTERVAL = timedelta(days=1)
Cause = ScoreHistory.Cause


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


class _Stored(NamedTuple):
    """What a lead's new score is compared with: its score row as locked."""

    score: Decimal
    engagement: Decimal
    fit: Decimal
    rules_version: int
    history_score: Decimal | None
    history_at: datetime | None
    epoch: datetime | None
    as_of: datetime | None
    discrete_at: datetime | None
    breakdown: str | None = None  # the JSON text, read only for the time-driven refresh
    fades: str | None = None  # likewise: engine.refade's sums (LeadScore.fades)


_STORED_FIELDS = (
    "score", "engagement", "fit", "rules_version", "history_score", "history_at", "epoch",
    "as_of", "discrete_at",
)  # fmt: skip


def _stored_lock(lead_ids: Sequence[int], *, breakdown: bool) -> dict[int, _Stored]:
    """Lock these leads' score rows FOR UPDATE in lead_id order and read what a new score
    is compared with (not whole rows: the breakdown JSON only when asked, as text)."""
    rows = LeadScore.objects.filter(lead_id__in=list(lead_ids)).select_for_update()
    fields: list[Any] = list(_STORED_FIELDS)
    if breakdown:
        fields += [Cast("breakdown", TextField()), Cast("fades", TextField())]
    return {
        lead_id: _Stored(*values)
        for lead_id, *values in rows.order_by("lead_id").values_list("lead_id", *fields)
    }


def fades_json(state: engine.FadeState) -> str | None:
    """LeadScore.fades: [[rule_id, events from the future, summed weights], ...]; None (SQL
    NULL: "evaluate the events") when no rule fades."""
    if not state.fades:
        return None
    return orjson.dumps([[f.rule_id, f.future, str(f.weights)] for f in state.fades]).decode()


@lru_cache(maxsize=4096)
def _cents(points: float) -> Decimal:
    """A stored breakdown's points (a JSON number with two decimals) as a Decimal."""
    return Decimal(str(points))


def _refaded(
    stored: dict[int, _Stored], sets: RuleSets, *, now: datetime
) -> dict[int, tuple[engine.Score, datetime | None, engine.FadeState]]:
    """The leads of a refresh batch whose score `engine.refade` moves forward without their
    events: fading sums stored under the published rules, nothing else due, not waiting to be
    scored for new events, no re-score building (it needs each lead's events)."""
    if sets.building_job is not None:
        return {}
    ready = [
        pk for pk, old in stored.items()
        if old.fades and old.as_of is not None and old.rules_version == sets.version
    ]  # fmt: skip
    if not ready:
        return {}
    waiting = set(ScoreQueue.objects.filter(lead_id__in=ready).values_list("lead_id", flat=True))
    rules = {rule.id: rule for rule in sets.live if rule.active}
    moved = {}
    for pk in ready:
        old = stored[pk]
        if pk in waiting or old.as_of is None or old.fades is None or old.breakdown is None:
            continue
        fades = tuple(
            engine.Fade(rule_id, future, Decimal(weights))
            for rule_id, future, weights in orjson.loads(old.fades)
        )
        breakdown = tuple(
            engine.Contribution(c["rule_id"], c["rule"], c["kind"], c["count"], _cents(c["points"]))
            for c in orjson.loads(old.breakdown)
        )
        state = engine.FadeState(old.discrete_at, fades)
        answer = engine.refade(breakdown, state, rules, since=old.as_of, now=now)
        if answer is not None:
            moved[pk] = answer
    return moved


def _history_due(stored: _Stored, score: engine.Score, *, now: datetime) -> bool:
    if stored.history_score is None or stored.history_at is None:
        return True
    moved = abs(score.score - stored.history_score) >= HISTORY_MIN_DELTA
    return moved or now - stored.history_at >= HISTORY_MIN_INTERVAL


def _stale(stored: _Stored, score: engine.Score, *, version: int) -> bool:
    """Whether the stored breakdown or rules version differs from this score's."""
    if stored.rules_version != version:
        return True
    saved = orjson.loads(stored.breakdown) if stored.breakdown is not None else None
    return bool(saved != breakdown_json(score))


def leads_score(
    lead_ids: Sequence[int],
    *,
    now: datetime,
    cause: str = Cause.EVENT,
    sets: RuleSets | None = None,
    bulk: bool = False,
) -> dict[int, engine.Score]:
    """Score these leads at `now` under the published rules, store what changed, and return
    every lead's score. Run it inside the caller's transaction: the rule set is read under a
    share lock (pass `sets` from `rule_sets_for_scoring()` when the caller took it first),
    so a re-score swap never lands in the middle of a batch. `bulk`: a back-fill's leads
    (`hooks.scores_computed` says so to the apps above)."""
    scores, _ = _leads_score(lead_ids, now=now, cause=cause, sets=sets, bulk=bulk)
    return scores


@transaction.atomic
def leads_refresh(lead_ids: Sequence[int], *, now: datetime) -> dict[int, Decimal]:
    """The periodic re-score (fading, expiry, inactivity) of these leads; stores each one's
    next change (engine.next_change) and returns the new scores of those that changed.

    On PostgreSQL the leads only fading can change are moved forward in one statement
    (`fading.leads_refade`, equal to `engine.refade`); the engine scores the others."""
    sets = rule_sets_for_scoring()
    if not engine.changes_with_time(sets.live):
        return {}
    rest, changed = list(lead_ids), {}
    if connection.vendor == "postgresql" and sets.building_job is None:
        # Every row of the batch locked first, in lead_id order, as `_leads_score` does.
        with connection.cursor() as cursor:
            cursor.execute(_LOCK_SQL, [id_array(rest)])
        done = fading.leads_refade(rest, sets.live, version=sets.version, now=now)
        hooks.scores_computed(done.rose)
        rest, changed = done.declined(rest), done.changed
    if rest:
        scores, moved = _leads_score(rest, now=now, cause=Cause.TIME, sets=sets)
        changed.update((pk, scores[pk].score) for pk in moved)
    return changed


# A score row to write: lead_id, score, engagement, fit, breakdown, history_score, history_at,
# next_change_at, fades (JSON text or None), discrete_at; a history point: lead_id, score,
# engagement, fit; a re-score job's result: lead_id, score, engagement, fit, breakdown,
# next_change_at, fades, discrete_at; a row whose score stays: lead_id, next_change_at.
_Row = tuple[Any, ...]


@transaction.atomic
def _leads_score(
    lead_ids: Sequence[int],
    *,
    now: datetime,
    cause: str,
    sets: RuleSets | None,
    bulk: bool = False,
) -> tuple[dict[int, engine.Score], set[int]]:
    sets = sets or rule_sets_for_scoring()
    if cause == Cause.TIME and not engine.changes_with_time(sets.live):
        return {}, set()
    # Scoring's own rows are locked (in id order), never the lead's: ingestion and handoff
    # do not wait on a scoring batch. Two batches of the same lead take turns here.
    stored = _stored_lock(lead_ids, breakdown=cause == Cause.TIME)
    # The hourly refresh moves a fading score forward without its events where it can.
    faded = _refaded(stored, sets, now=now) if cause == Cause.TIME else {}
    plan = engine.needs(sets.live + sets.building)
    profiles = lead_profiles([pk for pk in stored if pk not in faded], plan=plan)
    if not profiles and not faded:
        return {}, set()
    events = events_load(list(profiles), plan=plan) if profiles else {}
    # The rules are prepared once for the batch (engine.Scorer: the same scores as
    # engine.evaluate, lead by lead).
    live = engine.Scorer(sets.live)
    building = engine.Scorer(sets.building) if sets.building_job is not None else None
    scores: dict[int, engine.Score] = {}
    changed: set[int] = set()
    rose: set[int] = set()  # score or fit went up: only these can newly pass the MQL test
    detail_rows: list[_Row] = []
    history: list[_Row] = []
    results: list[_Row] = []
    nexts: list[_Row] = []
    for lead_id in [pk for pk in stored if pk in faded or pk in profiles]:
        old = stored[lead_id]
        facts = None
        if lead_id in faded:
            score, until, state = faded[lead_id]
        else:
            facts = engine.LeadFacts(
                **profiles[lead_id], events=tuple(events.get(lead_id, ())), score_epoch=old.epoch
            )
            # The score, the moment it can next change by time alone (engine.next_change),
            # and what the refresh can move it forward from (engine.refade).
            score, until, state = live.evaluate_state(facts, now=now)
        scores[lead_id] = score
        moved = (old.score, old.engagement, old.fit) != (score.score, score.engagement, score.fit)
        if moved:
            changed.add(lead_id)
        if score.score > old.score or score.fit > old.fit:
            rose.add(lead_id)
        point = moved and (cause != Cause.TIME or _history_due(old, score, now=now))
        if point:
            history.append((lead_id, score.score, score.engagement, score.fit))
        # Event-driven scoring always records when it evaluated (as_of); the hourly refresh
        # rewrites only what changed and marks the whole pass (ScoringState.refreshed_at).
        if moved or cause != Cause.TIME or _stale(old, score, version=sets.version):
            marked = (score.score, now) if point else (old.history_score, old.history_at)
            detail_rows.append(
                (lead_id, score.score, score.engagement, score.fit, breakdown_json(score),
                 *marked, until, fades_json(state), state.discrete)
            )  # fmt: skip
        else:
            nexts.append((lead_id, until))
        if building is not None and facts is not None:
            # While a re-score builds, the newest score under its rules is this one.
            result, result_until, result_state = building.evaluate_state(facts, now=now)
            results.append(
                (lead_id, result.score, result.engagement, result.fit, breakdown_json(result),
                 result_until, fades_json(result_state), result_state.discrete)
            )  # fmt: skip
    _store(
        detail_rows, history, results, now=now, cause=cause, version=sets.version,
        job=sets.building_job,
    )  # fmt: skip
    _store_next(nexts)
    # A score that time only lowered cannot newly pass the (monotone) MQL test.
    hooks.scores_computed(rose if cause == Cause.TIME else scores, bulk=bulk)
    return scores, changed


def _decimal_text(value: Any) -> str:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _rows_document(rows: list[_Row]) -> Any:
    """The rows as one JSON array of arrays, in one C call: numbers as exact decimal text,
    times in ISO 8601 with their offset, breakdowns as they are; passed as orjson wrote it
    (sqlparams.JsonText: no escaping by the driver). psycopg2 adapted the timestamps and
    decimals of one array per column value by value in Python: 4 ms of a 100-row score
    batch's 12 ms statement (docs/benchmarks.md)."""
    return json_param(orjson.dumps(rows, default=_decimal_text))


DETAIL_FIELDS = (
    "score",
    "engagement",
    "fit",
    "breakdown",
    "as_of",
    "rules_version",
    "history_score",
    "history_at",
    "next_change_at",
    "fades",
    "discrete_at",
)


def _store(
    details: list[_Row], history: list[_Row], results: list[_Row], *, now: datetime,
    cause: str, version: int, job: int | None,
) -> None:  # fmt: skip
    """Write the batch: score rows (locked by this transaction, so they exist), history
    points and the building job's results; one statement each."""
    if connection.vendor != "postgresql":
        _store_orm(details, history, results, now=now, cause=cause, version=version, job=job)
        return
    with connection.cursor() as cursor:
        if details:
            cursor.execute(_DETAILS_SQL, [now, version, _rows_document(details)])
        if history:
            cursor.execute(_HISTORY_SQL, [now, cause, _rows_document(history)])
        if results and job is not None:
            cursor.execute(_RESULTS_SQL, [job, now, _rows_document(results)])


def _store_next(nexts: list[_Row]) -> None:
    """Only the next change of score rows whose score stays (the time-driven refresh)."""
    if not nexts:
        return
    if connection.vendor != "postgresql":
        LeadScore.objects.bulk_update(
            [LeadScore(lead_id=lead_id, next_change_at=until) for lead_id, until in nexts],
            ["next_change_at"],
            batch_size=1000,
        )
        return
    with connection.cursor() as cursor:
        cursor.execute(_NEXT_SQL, [_rows_document(nexts)])


# The rows are this batch's, from `unnest` of one array per column: one statement per table
# and batch, far cheaper than the ORM's per-value SQL compilation (docs/benchmarks.md).
# A score row to write, as `_rows_document` gives it: [lead_id, score, engagement, fit,
# breakdown, history_score, history_at, next_change_at, fades (JSON text or null),
# discrete_at].
_DETAILS_SQL = (
    f"UPDATE {LeadScore._meta.db_table} AS d SET score = v.score, "  # noqa: S608 (names only)
    "engagement = v.engagement, fit = v.fit, breakdown = v.breakdown, as_of = %s, "
    "rules_version = %s, history_score = v.history_score, history_at = v.history_at, "
    "next_change_at = v.next_change_at, fades = v.fades, discrete_at = v.discrete_at "
    "FROM (SELECT (e->>0)::bigint AS lead_id, (e->>1)::numeric AS score, "
    "(e->>2)::numeric AS engagement, (e->>3)::numeric AS fit, e->4 AS breakdown, "
    "(e->>5)::numeric AS history_score, (e->>6)::timestamptz AS history_at, "
    "(e->>7)::timestamptz AS next_change_at, (e->>8)::jsonb AS fades, "
    "(e->>9)::timestamptz AS discrete_at FROM jsonb_array_elements(%s::jsonb) AS e) AS v "
    "WHERE d.lead_id = v.lead_id"
)
_LOCK_SQL = (
    f"SELECT lead_id FROM {LeadScore._meta.db_table} "  # noqa: S608 (names only)
    "WHERE lead_id = ANY(%s::bigint[]) ORDER BY lead_id FOR UPDATE"
)
_NEXT_SQL = (
    f"UPDATE {LeadScore._meta.db_table} AS d SET next_change_at = v.next_change_at "  # noqa: S608
    "FROM (SELECT (e->>0)::bigint AS lead_id, (e->>1)::timestamptz AS next_change_at "
    "FROM jsonb_array_elements(%s::jsonb) AS e) AS v WHERE d.lead_id = v.lead_id"
)
_HISTORY_SQL = (
    f"INSERT INTO {ScoreHistory._meta.db_table} "  # noqa: S608 (names only)
    "(lead_id, at, cause, score, engagement, fit) "
    "SELECT (e->>0)::bigint, %s, %s, (e->>1)::numeric, (e->>2)::numeric, (e->>3)::numeric "
    "FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS v(e, i) ORDER BY i"
)
# A re-score job's result: [lead_id, score, engagement, fit, breakdown, next_change_at, fades
# (JSON text or null), discrete_at].
_RESULTS_SQL = (
    f"INSERT INTO {RescoreResult._meta.db_table} "  # noqa: S608 (names only)
    "(job_id, as_of, lead_id, score, engagement, fit, breakdown, next_change_at, fades, "
    "discrete_at) "
    "SELECT %s, %s, (e->>0)::bigint, (e->>1)::numeric, (e->>2)::numeric, (e->>3)::numeric, "
    "e->4, (e->>5)::timestamptz, (e->>6)::jsonb, (e->>7)::timestamptz "
    "FROM jsonb_array_elements(%s::jsonb) AS e "
    "ON CONFLICT (job_id, lead_id) DO UPDATE SET score = EXCLUDED.score, "
    "engagement = EXCLUDED.engagement, fit = EXCLUDED.fit, breakdown = EXCLUDED.breakdown, "
    "as_of = EXCLUDED.as_of, next_change_at = EXCLUDED.next_change_at, "
    "fades = EXCLUDED.fades, discrete_at = EXCLUDED.discrete_at"
)


_RESULTS_KEEP_SQL = (
    _RESULTS_SQL.split(" ON CONFLICT ", maxsplit=1)[0] + " ON CONFLICT (job_id, lead_id) DO NOTHING"
)


def _result_objects(job_id: int, rows: list[_Row], *, now: datetime) -> list[RescoreResult]:
    return [
        RescoreResult(
            job_id=job_id,
            lead_id=lead_id,
            score=score,
            engagement=engagement,
            fit=fit,
            breakdown=breakdown,
            as_of=now,
            next_change_at=until,
            fades=None if fades is None else orjson.loads(fades),
            discrete_at=discrete,
        )
        for lead_id, score, engagement, fit, breakdown, until, fades, discrete in rows
    ]


def results_add(job_id: int, rows: list[_Row], *, now: datetime) -> None:
    """A re-score job's results (lead_id, score, engagement, fit, breakdown, next change,
    fades JSON text or None, discrete_at); a result already there (live scoring's, another
    runner's) is kept. One statement."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        RescoreResult.objects.bulk_create(
            _result_objects(job_id, rows, now=now), batch_size=1000, ignore_conflicts=True
        )
        return
    with connection.cursor() as cursor:
        cursor.execute(_RESULTS_KEEP_SQL, [job_id, now, _rows_document(rows)])


def _store_orm(
    details: list[_Row], history: list[_Row], results: list[_Row], *, now: datetime,
    cause: str, version: int, job: int | None,
) -> None:  # fmt: skip
    """`_store` on any other database (SQLite, the embedded default)."""
    if details:
        # INSERT … ON CONFLICT DO UPDATE: one statement per batch; bulk_update's CASE per
        # column and row cost 20× more (docs/benchmarks.md).
        LeadScore.objects.bulk_create(
            [
                LeadScore(
                    lead_id=lead_id,
                    score=score,
                    engagement=engagement,
                    fit=fit,
                    breakdown=breakdown,
                    as_of=now,
                    rules_version=version,
                    history_score=history_score,
                    history_at=history_at,
                    next_change_at=until,
                    fades=None if fades is None else orjson.loads(fades),
                    discrete_at=discrete,
                )
                for (
                    lead_id,
                    score,
                    engagement,
                    fit,
                    breakdown,
                    history_score,
                    history_at,
                    until,
                    fades,
                    discrete,
                ) in details
            ],
            batch_size=1000,
            update_conflicts=True,
            unique_fields=["lead"],
            update_fields=DETAIL_FIELDS,
        )
    if history:
        ScoreHistory.objects.bulk_create(
            [
                ScoreHistory(
                    lead_id=lead_id,
                    at=now,
                    score=score,
                    engagement=engagement,
                    fit=fit,
                    cause=cause,
                )
                for lead_id, score, engagement, fit in history
            ],
            batch_size=1000,
        )
    if results and job is not None:
        RescoreResult.objects.bulk_create(
            _result_objects(job, results, now=now),
            batch_size=1000,
            update_conflicts=True,
            unique_fields=["job", "lead_id"],
            update_fields=[
                "score",
                "engagement",
                "fit",
                "breakdown",
                "as_of",
                "next_change_at",
                "fades",
                "discrete_at",
            ],
        )


def leads_score_enqueue(lead_ids: Iterable[int], *, bulk: bool = False) -> None:
    """Queue leads for scoring in the caller's transaction; the scoring task runs after commit.
    `bulk`: a back-fill's leads, scored after those live traffic queued (LeadQueue.bulk)."""
    if not ScoreQueue.append(lead_ids, bulk=bulk):
        return
    from ..tasks import leads_score_pending as task  # noqa: PLC0415 (tasks import this module)

    transaction.on_commit(lambda: task_kick(task.name))


def leads_score_pending(
    *,
    limit: int = 200,
    bulk_limit: int | None = None,
    bulk_first: bool = False,
    now: datetime | None = None,
) -> int:
    """Score one batch of queued leads (live ones up to `limit`, or back-fill ones up to
    `bulk_limit`: `LeadQueue.claim`); returns how many leads were scored. While the inbox
    still holds large batches to expand, a back-fill's lead waits SCORING_BULK_SETTLE_SECONDS
    after it was queued, so that it is scored once for the many batches of it that arrive
    meanwhile, not once for each; the last expansion's kick finds the inbox empty and scores
    the rest at once."""
    now = now or timezone.now()
    settle = settings.SCORING_BULK_SETTLE_SECONDS if inbox_expanding() else 0
    with transaction.atomic():
        # The rule set first (a share lock), then queue rows, then score rows: a re-score
        # swap waits for this batch, and never holds what this batch waits for.
        sets = rule_sets_for_scoring()
        ids, bulk = ScoreQueue.claim_batch(
            limit=limit, bulk_limit=bulk_limit, bulk_first=bulk_first, bulk_settle=settle
        )
        if not ids:
            return 0
        leads_score(ids, now=now, sets=sets, bulk=bulk)
    return len(ids)


class Refreshed(NamedTuple):
    """One pass of the time-driven refresh: leads re-evaluated, and whose score changed."""

    visited: int
    changed: int


# Leads per refresh transaction. Each batch pays fixed costs: the keyset read, the lock, the
# statement's planning, the commit. 2,000 make the pass ~5 % cheaper per lead than 1,000
# (issue 9) and hold a batch's score rows ~0.15 s, which live scoring of those leads waits.
REFRESH_BATCH: Final = 2000


def scores_refresh(*, batch: int = REFRESH_BATCH) -> int:
    """Fading, expiry and inactivity change scores without events: re-score the leads whose
    next change has come and store what changed; returns how many changed."""
    return scores_refresh_due(batch=batch).changed


def scores_refresh_due(*, batch: int = REFRESH_BATCH, now: datetime | None = None) -> Refreshed:
    """`scores_refresh`, counted. Only the leads whose `next_change_at` (engine.next_change,
    stored with every score) has come by the start of the pass are visited, in batches in
    (next_change_at, lead_id) order (keyset, on its index); each one's next change is stored
    again, so a lead whose events are long expired or faded to nothing is not read again
    until new events or new rules re-score it. Each batch is scored at its own moment; `now`
    (tests, benchmarks) fixes one moment for the whole pass."""
    started = now or timezone.now()
    if not engine.changes_with_time(rules_live()[1]):
        scores_refreshed(at=started)
        return Refreshed(0, 0)
    after: tuple[datetime, int] = (_EARLIEST, 0)
    visited, changed = 0, 0
    while True:
        with connection.cursor() as cursor:
            cursor.execute(_DUE_SQL, [started, *after, batch])
            due = cursor.fetchall()
        if not due:
            break
        # A row is only written with a moment >= its batch's now >= started, so the cursor
        # passes each lead at most twice (once more only if written exactly at `started`).
        after = (due[-1][1], due[-1][0])
        visited += len(due)
        changed += len(leads_refresh([lead_id for lead_id, _ in due], now=now or timezone.now()))
    scores_refreshed(at=started)
    return Refreshed(visited, changed)


_EARLIEST: Final = datetime(1, 1, 1, tzinfo=UTC)
_DUE_SQL = (
    f"SELECT lead_id, next_change_at FROM {LeadScore._meta.db_table} "  # noqa: S608 (names only)
    "WHERE next_change_at <= %s AND (next_change_at, lead_id) > (%s, %s) "
    "ORDER BY next_change_at, lead_id LIMIT %s"
)


def lead_epoch_move(lead_id: int, *, at: datetime) -> None:
    """Engagement counts from `at` on (a recycle, SPEC §5); the lead is re-scored (and its
    fading sums, which counted the events before `at`, are not used again)."""
    LeadScore.objects.filter(lead_id=lead_id).update(epoch=at, fades=None, discrete_at=None)
    leads_score_enqueue([lead_id])


# --- the core's hooks: a score row per lead, queued on change, merged with the lead ----------


def score_rows_create(lead_ids: list[int]) -> None:
    LeadScore.objects.bulk_create(
        [LeadScore(lead_id=i) for i in lead_ids], ignore_conflicts=True, batch_size=1000
    )


def score_rows_merge(*, into: int, duplicate: int) -> dict[str, Any]:
    """The survivor keeps its own score row and history (it is re-scored from all events
    now); the duplicate's score is kept in the merge record."""
    row = LeadScore.objects.filter(lead_id=duplicate).values_list("score", flat=True).first()
    return {"score": str(row) if row is not None else None}
