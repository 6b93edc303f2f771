"""Scoring benchmarks: the bulk re-score of a rule change, the hourly refresh, live batches
and the simulator, on the benchmark data (100,000 leads by default), with the yardstick every
figure is divided by, measured in the same run."""

import os
import statistics
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from rest_framework.test import APIClient

from handoff.qualify import leads_qualify_pending
from handoff.services import policy_update
from mqlapp.console.demo import DEMO_RULES
from mqlapp.leads.models import Lead
from mqlapp.leads.services import user_create
from scoring.models import LeadScore, RescoreJob, ScoreQueue, ScoringRule
from scoring.services import (
    leads_score_pending,
    rescore_finish,
    rescore_start,
    rule_validate,
    rules_live,
    scores_refresh_due,
)
from scoring.services.parallel import parallel_map
from scoring.services.rescore import rescore_build
from scoring.tasks import SCORE_BATCH
from tests.bench import data
from tests.bench.load import process_peak_mb


def _timed(action: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def _qualify_drain() -> int:
    """What the handoff task does after scoring: qualify every lead scoring queued for it
    (in-process, the task already ran on commit; this only empties what is left)."""
    total = 0
    while done := leads_qualify_pending(limit=500):
        total += done
    return total


def bench_yardstick(*, runs: int = 3) -> dict[str, Any]:
    """The unit of every figure: one plain read of every lead's events into Python (a
    server-side cursor, the columns scoring needs, no project code): the floor under any pass
    that scores every lead. Median of `runs`, measured in this run on this data."""

    def read() -> int:
        rows = 0
        with transaction.atomic(), connection.chunked_cursor() as cursor:
            cursor.execute(
                "SELECT lead_id, type, name, properties, timestamp FROM leads_event "
                "ORDER BY lead_id, timestamp"
            )
            while chunk := cursor.fetchmany(10_000):
                rows += len(chunk)
        return rows

    times, events = [], 0
    for _ in range(runs):
        seconds, events = _timed(read)
        times.append(seconds)
    return {"seconds": statistics.median(times), "min_s": min(times), "max_s": max(times),
            "events": events}  # fmt: skip


def bench_sql_aggregate(*, runs: int = 3) -> dict[str, Any]:
    """The issue's yardstick for a re-score: a bare SQL aggregate of points per lead over the
    same events (each behaviour rule's points for every event it names; no caps, fading,
    conditions or fit), into a temporary table as a re-score would build it. Median of `runs`."""
    _, rules = rules_live()
    cases, params = [], []
    for rule in rules:
        if rule.kind != "behavior" or not rule.event:
            continue
        if rule.event.lower() in ("page", "screen"):
            cases.append("CASE WHEN type = %s THEN %s ELSE 0 END")
            params += [rule.event.lower(), rule.points]
        else:
            cases.append("CASE WHEN type = 'track' AND lower(name) = %s THEN %s ELSE 0 END")
            params += [rule.event.lower(), rule.points]
    points = " + ".join(cases) or "0"
    sql = (
        "CREATE TEMP TABLE bench_points ON COMMIT DROP AS "
        f"SELECT lead_id, sum({points}) AS points FROM leads_event "
        "WHERE lead_id IS NOT NULL GROUP BY lead_id"
    )
    times = []
    for _ in range(runs):
        with transaction.atomic(), connection.cursor() as cursor:
            seconds, _ = _timed(lambda c=cursor: c.execute(sql, params))
            times.append(seconds)
    return {"seconds": statistics.median(times), "min_s": min(times), "max_s": max(times),
            "rules": len(cases)}  # fmt: skip


def _rules_install() -> None:
    ScoringRule.objects.all().delete()
    ScoringRule.objects.bulk_create(ScoringRule(**rule_validate(rule)) for rule in DEMO_RULES)


def bench_rescore() -> dict[str, Any]:
    """A rule change over every lead: build all scores aside, then the one swap."""
    _rules_install()
    with transaction.atomic():
        job = RescoreJob.objects.create(reason="bench", total=Lead.objects.count())
    # two runners, as a scoring pool of three would run it (SCORING_RESCORE_PARTS=2,
    # docs/scaling.md); BENCH_RESCORE_PARTS picks another number
    parts = int(os.environ.get("BENCH_RESCORE_PARTS", "2"))
    # the runners are long-lived worker processes: start them before the clock does
    parallel_map(time.sleep, [(0.2,)] * parts, leads=Lead.objects.count())
    started = time.perf_counter()
    assert rescore_start(job.pk, now=timezone.now())
    # as the workers run it: rescore_parts() runners, each claiming ranges of leads (here in
    # the simulator's worker processes; in production, Celery tasks on the scoring queue)
    batches = parallel_map(rescore_build, [(job.pk,)] * parts, leads=job.total)
    built = time.perf_counter() - started
    swap, finished = _timed(lambda: rescore_finish(job.pk, now=timezone.now()))
    assert finished
    job.refresh_from_db()
    return {
        "leads": job.total, "build_s": built, "swap_s": swap, "changed": job.changed,
        "runners": parts, "batches": batches,
    }  # fmt: skip


# The shares of leads made due for the refresh figures, as "every n-th lead id".
REFRESH_SHARES = ((1, 100), (10, 10), (100, 1))
# The idle leads added (SQL, rolled back) for the figure at a larger count: this many times
# the benchmark's leads, at most IDLE_MAX.
IDLE_TIMES, IDLE_MAX = 10, 1_000_000


def _refresh_timed(*, now: datetime) -> dict[str, Any]:
    """One pass of the hourly job at `now` (scoring's task, then handoff's qualification of
    the leads whose score moved)."""

    def refresh() -> Any:
        done = scores_refresh_due(now=now)
        _qualify_drain()
        return done

    seconds, done = _timed(refresh)
    return {"seconds": seconds, "visited": done.visited, "changed": done.changed}


def _due_every(step: int, *, now: datetime) -> int:
    """Every `step`-th lead (by id) due at `now`, every other one not for a year; returns how
    many are due. Stands for "this share of leads can change within the hour"."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE scoring_leadscore SET next_change_at = CASE WHEN lead_id %% %s = 0 "
            "THEN %s ELSE %s END",
            [step, now - timedelta(seconds=1), now + timedelta(days=365)],
        )
        cursor.execute("ANALYZE scoring_leadscore")
    return LeadScore.objects.filter(next_change_at__lte=now).count()


def _idle_leads(count: int, *, version: int, now: datetime) -> int:
    """`count` leads without events whose scores change no sooner than in 30 days, with
    generate_series (inside the caller's transaction; it rolls them back)."""
    first = (Lead.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
    names, values, params = [], [], []
    for name, data_type, nullable in data._columns("leads_lead"):
        if name == "id":
            names.append(name)
            values.append("g")
        elif not nullable:
            names.append(name)
            if data_type in ("text", "character varying"):
                values.append("%s || g || %s")
                params += ["idle", "@idle.example"] if name == "email" else [f"idle-{name}-", ""]
            else:
                values.append("%s")
                params.append(data._default(data_type, now))
    series = "generate_series(%s, %s) AS g"
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO leads_lead ({', '.join(names)}) SELECT {', '.join(values)} FROM {series}",
            [*params, first, first + count - 1],
        )
        cursor.execute(
            "INSERT INTO scoring_leadscore (lead_id, score, engagement, fit, breakdown, "
            "rules_version, next_change_at) "
            f"SELECT g, 0, 0, 0, '[]', %s, %s FROM {series}",
            [version, now + timedelta(days=30), first, first + count - 1],
        )
        cursor.execute("ANALYZE scoring_leadscore")
    return count


def bench_refresh() -> dict[str, Any]:
    """The hourly job visits only leads whose score can change by now (next_change_at):

    - natural: right after the re-score, how many leads the engine says can change within
      the next hour, and the refresh an hour on;
    - shares: 1 %, 10 % and 100 % of leads due, the others not: the cost follows the due;
    - larger: the 1 % again with IDLE_TIMES × as many idle leads added with SQL (rolled
      back), whose scores cannot change this hour: they cost the refresh nothing."""
    leads = Lead.objects.count()
    now = timezone.now()
    hour = now + timedelta(hours=1)
    natural_due = LeadScore.objects.filter(next_change_at__lte=hour).count()
    natural = {"due": natural_due, **_refresh_timed(now=hour)}
    # Each pass an hour after the one before, as the hourly job runs: a pass at a moment
    # before the scores' own (as_of) would re-evaluate every lead from its events instead.
    shares = []
    for percent, step in REFRESH_SHARES:
        hour += timedelta(hours=1)
        due = _due_every(step, now=hour)
        shares.append({"percent": percent, "due": due, **_refresh_timed(now=hour)})
    now = hour + timedelta(hours=1)
    idle = min(IDLE_MAX, IDLE_TIMES * leads)
    larger: dict[str, Any] = {}
    version = rules_live()[0]
    with transaction.atomic():
        due = _due_every(REFRESH_SHARES[0][1], now=now)
        added, _ = _timed(lambda: _idle_leads(idle, version=version, now=now))
        larger = {"idle": idle, "due": due, "insert_s": added, **_refresh_timed(now=now)}
        transaction.set_rollback(True)  # the idle leads were only for this figure
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE scoring_leadscore")
    return {"leads": leads, "natural": natural, "shares": shares, "larger": larger}


def bench_live(*, leads: int = 10_000) -> dict[str, Any]:
    """The event-driven batches (SCORE_BATCH leads each) as the workers drain the scoring
    queue, and the qualification of the leads they scored."""
    ids = list(Lead.objects.order_by("?").values_list("pk", flat=True)[:leads])
    # Straight into the queue: leads_score_enqueue would kick the (in-process) task at once.
    ScoreQueue.objects.bulk_create([ScoreQueue(lead_id=pk) for pk in ids])

    def drain() -> int:
        total = 0
        while done := leads_score_pending(limit=SCORE_BATCH):
            total += done
        _qualify_drain()
        return total

    seconds, total = _timed(drain)
    return {"leads": total, "seconds": seconds, "batch": SCORE_BATCH}


def _draft(change: Callable[[list[dict[str, Any]]], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    _, live = rules_live()
    rules = [
        {key: value for key, value in rule.items() if key != "id"}
        for rule in ScoringRule.objects.filter(pk__in=[r.id for r in live]).values(
            "name", "kind", "event", "conditions", "points", "max_times", "window_days",
            "half_life_days", "expire_after_days", "after_event", "watch_events",
            "inactive_days", "active",
        )
    ]  # fmt: skip
    for rule in rules:
        for key, value in list(rule.items()):
            if isinstance(value, Decimal):
                rule[key] = float(value)
    return change(rules)


def _one_changed(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {**rule, "points": rule["points"] + 5} if rule["name"] == "Whitepaper download" else rule
        for rule in rules
    ]


def _all_changed(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**rule, "points": rule["points"] + 1} for rule in rules]


def _all_reshaped(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every rule changed in what it counts, not only its points: half-lives doubled, caps
    raised, fit bars moved, inactivity lengthened (every event is read and scored again)."""

    def reshaped(rule: dict[str, Any]) -> dict[str, Any]:
        if rule["kind"] == "fit":
            condition = dict(rule["conditions"][0])
            value = condition["value"]
            condition["value"] = [*value, "Head"] if isinstance(value, list) else value // 2
            return {**rule, "conditions": [condition]}
        if rule["kind"] == "inactivity":
            return {**rule, "inactive_days": rule["inactive_days"] + 7}
        if rule["half_life_days"] is not None:
            return {**rule, "half_life_days": rule["half_life_days"] * 2}
        return {**rule, "max_times": (rule["max_times"] or 4) + 1}

    return [reshaped(rule) for rule in rules]


def _one_added(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    added = {"name": "Pricing whitepaper", "kind": "behavior", "event": "Document Downloaded",
             "conditions": [{"field": "properties.category", "op": "eq", "value": "pricing"}],
             "points": 15, "half_life_days": 60}  # fmt: skip
    return [*rules, added]


SCENARIOS: list[tuple[str, Callable[[], dict[str, Any]]]] = [
    ("threshold only (live rules)", lambda: {"mql_threshold": 80}),
    ("one rule's points changed", lambda: {"rules": _draft(_one_changed), "mql_threshold": 80}),
    ("one rule added", lambda: {"rules": _draft(_one_added), "mql_threshold": 80}),
    ("every rule's points changed (nothing reused)",
     lambda: {"rules": _draft(_all_changed), "mql_threshold": 80}),
    ("every rule reshaped (all events scored again)",
     lambda: {"rules": _draft(_all_reshaped), "mql_threshold": 80}),
]  # fmt: skip


def bench_simulator(*, runs: int = 3) -> list[dict[str, Any]]:
    """POST /api/scoring/simulate/ as an admin, each scenario `runs` times."""
    admin = user_create(username=f"bench-{time.time_ns()}", password="a-long-bench-password",
                        role="admin")  # fmt: skip
    client = APIClient(SERVER_NAME="127.0.0.1")
    client.force_authenticate(admin)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")  # after the re-score and refresh updates
    # Warm-up: the first large simulation starts the worker processes (once per server
    # process); it is timed separately.
    warmup, _ = _timed(lambda: client.post("/api/scoring/simulate/", {}, format="json"))
    results: list[dict[str, Any]] = [{"scenario": "warm-up", "seconds": warmup}]
    for label, body in SCENARIOS:
        payload = body()
        times, answer = [], {}
        for _ in range(runs):
            seconds, response = _timed(
                lambda p=payload: client.post("/api/scoring/simulate/", p, format="json")
            )
            assert response.status_code == 200, response.content
            times.append(seconds)
            answer = response.json()
        results.append(
            {
                "scenario": label,
                "median_s": statistics.median(times),
                "min_s": min(times),
                "max_s": max(times),
                "leads": answer["leads_evaluated"],
                "would_qualify": answer["would_qualify"],
                "rules_evaluated": answer["rules_evaluated"],
                "backtest_leads": sum(v["total"] for v in answer["backtest"].values()),
            }
        )
    return results


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MB (VmHWM: a pool process spawned by
    the benchmark's own process, large after generating the data, would report that size
    as its `ru_maxrss`)."""
    time.sleep(0.2)  # long enough for each pool process to take one of these calls
    return process_peak_mb(os.getpid())


def bench_memory(*, leads: int) -> dict[str, Any]:
    """Peak RSS, after the re-score build and the simulations: of the benchmark's own process
    (live scoring, the refresh, the swap: a scoring worker's work) and of each worker process
    of the pool (re-score runners, simulator ranges)."""
    pool = parallel_map(peak_rss_mb, [()] * 6, leads=leads)
    return {"main_mb": peak_rss_mb(), "pool_mb": max(pool) if pool else 0.0}


def run(*, live_leads: int = 10_000, simulator_runs: int = 3) -> dict[str, Any]:
    policy_update(data={"mql_threshold": 1_000_000})  # no MQL emails during the benchmark
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
        cursor.execute("SELECT count(*) FROM leads_event")
        events = cursor.fetchone()[0]
    yardstick = bench_yardstick()
    rescore = bench_rescore()
    aggregate = bench_sql_aggregate()  # over the rules the re-score just published
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")

    from django.conf import settings

    from scoring.services.parallel import processes

    minimum = int(getattr(settings, "SCORING_SIMULATE_PARALLEL_MIN_LEADS", 20_000))
    # The simulator first, on the scores as the re-score left them (as of now): the refresh
    # figures move scores hours ahead (`as_of` in the future), which no real score row has.
    simulator = bench_simulator(runs=simulator_runs)
    return {
        "processes": processes(),
        "cache": "redis" if "redis" in settings.CACHES["default"]["BACKEND"].lower() else "memory",
        "parallel": processes() > 1 and Lead.objects.count() >= minimum,
        "parallel_min_leads": minimum,
        "events": events,
        "yardstick": yardstick,
        "rescore": rescore,
        "sql_aggregate": aggregate,
        "refresh": bench_refresh(),
        "live": bench_live(leads=live_leads),
        "simulator": simulator,
        "simulator_runs": simulator_runs,
        "memory": bench_memory(leads=Lead.objects.count()),
    }
