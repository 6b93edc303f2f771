"""Write benchmark results into docs/benchmarks.md (only this run's section is replaced)."""

import math
import os
import re
import statistics
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

START, END = "<!-- bench:scoring:start -->", "<!-- bench:scoring:end -->"
HEADER = """# Benchmarks

Measured by `make bench` (`python -m tests.bench`), which builds a database of its own
(`<DATABASE_URL name>_bench`, or `_bench_small` / `_bench_tiny` with `BENCH_SCALE=small` or
`tiny`) with COPY and times the real code paths. Numbers are from one machine and are noisy
(other work shares it): every figure is also given as a ratio to a yardstick measured in the
same run on the same data; compare those ratios, never the bare times, and set no target in
seconds.
"""


def _runners(rescore: dict[str, Any]) -> str:
    """How the build ran: N runners in parallel processes, and the batches each took."""
    batches = rescore.get("batches") or []
    if rescore.get("runners", 1) <= 1 or len(batches) <= 1:
        return "one runner"
    return f"{len(batches)} runners in parallel, {' + '.join(map(str, batches))} batches"


def _ratio(seconds: float, yardstick: float) -> str:
    return f"{seconds / yardstick:.1f}"


def render(results: dict[str, Any], *, leads: int) -> str:
    rescore, refresh, live = results["rescore"], results["refresh"], results["live"]
    yard = results["yardstick"]
    agg = results["sql_aggregate"]
    unit = yard["seconds"]  # every lead's events, read once
    per_lead = unit / leads
    total = rescore["build_s"] + rescore["swap_s"]
    simulator = results["simulator"]
    warmup, scenarios = simulator[0], simulator[1:]
    outcomes = scenarios[0]["backtest_leads"] if scenarios else 0
    if results["parallel"]:
        processes = f"with {results['processes']} worker processes"
    else:
        processes = (
            f"in the server process (worker processes start from "
            f"{results['parallel_min_leads']:,} leads)"
        )
    lines = [
        START,
        "## Scoring",
        "",
        f"Run {datetime.now(UTC).date().isoformat()} on {results['machine']}, PostgreSQL, "
        f"{leads:,} leads with {results['events']:,} events (~{results['events'] // leads} "
        "each, over 180 days), the seed article's 12 rules, 5 % of leads with past sales "
        "outcomes (accepted, rejected, won, lost).",
        "",
        f"Yardstick: one plain read of every lead's events into Python (a server-side cursor, "
        f"no project code), {unit:.2f} s for {yard['events']:,} events in this run (median of "
        f"3, {yard['min_s']:.2f} – {yard['max_s']:.2f} s). The × yardstick column is a "
        "figure's time per lead divided by the yardstick's: for a pass over every lead, its "
        "time divided by the yardstick's.",
        "",
        "| what | × yardstick | time | rate |",
        "|---|---|---|---|",
        f"| rule change: re-score every lead into the job's results "
        f"({_runners(rescore)}) | {_ratio(rescore['build_s'], unit)} | {rescore['build_s']:.1f} s "
        f"| {rescore['leads'] / rescore['build_s']:,.0f} leads/s |",
        f"| rule change: the swap (one transaction, {rescore['changed']:,} scores changed) "
        f"| {_ratio(rescore['swap_s'], unit)} | {rescore['swap_s']:.1f} s | |",
        f"| rule change, end to end | {_ratio(total, unit)} | {total:.1f} s "
        f"| {rescore['leads'] / total:,.0f} leads/s |",
        *_refresh_rows(refresh, unit, leads=leads),
        f"| live scoring, batches of {live.get('batch', 200)} from the queue, then qualification "
        f"({live['leads']:,} leads) | {_ratio(live['seconds'] / live['leads'], per_lead)} "
        f"| {live['seconds']:.1f} s | {live['leads'] / live['seconds']:,.0f} leads/s |",
        "",
        f"Against the issue's yardstick for a re-score, a bare SQL aggregate of points per lead "
        f"over the same events ({agg['rules']} behaviour rules' points summed per lead into a "
        f"temporary table, no caps, fading or conditions; median of 3, {agg['seconds']:.2f} s): "
        f"the rule change end to end takes **{total / agg['seconds']:.1f} × the SQL "
        f"aggregate** (target ≤ 10 ×, aim 3 ×, at 1M leads / 10M events).",
        "",
        *_refresh_reading(refresh, unit, leads=leads),
        "",
        f"Simulator, `POST /api/scoring/simulate/` through the API {processes} "
        f"({_times(results.get('simulator_runs', 3))}; "
        f"the backtest included; threshold 80; {_cache(results)}):",
        "",
        "| draft | × yardstick | median | min – max | rules evaluated | would qualify "
        "| backtest leads |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in scenarios:
        lines.append(
            f"| {row['scenario']} | {_ratio(row['median_s'], unit)} | {row['median_s']:.2f} s "
            f"| {row['min_s']:.2f} – {row['max_s']:.2f} s | {row['rules_evaluated']} "
            f"| {row['would_qualify']:,} | {row['backtest_leads']:,} |"
        )
    if results["parallel"]:
        first = "The first large simulation of a server process also starts the worker processes"
    else:
        first = "The first simulation of a server process (no worker processes at this size)"
    memory = results.get("memory")
    lines += [
        "",
        f"{first}: {warmup['seconds']:.1f} s ({_ratio(warmup['seconds'], unit)} × yardstick) "
        "for that one call.",
        "",
    ]
    if memory:
        lines += [
            f"Peak resident memory at {results['events']:,} events (target < 512 MB for a worker "
            f"process at 10M): {memory['main_mb']:,.0f} MB for the process that ran live "
            f"scoring, the refresh and the swap, {memory['pool_mb']:,.0f} MB for a worker "
            "process of the pool that ran re-score runners and simulator ranges. Each holds one "
            "batch of leads and their events at a time (500 to 2,000 leads, 5,000 for a "
            "simulator range), whatever the size of the table.",
            "",
        ]
    lines += [
        "Reading the numbers:",
        "",
        "- The common simulations are the cheap ones: moving the threshold reuses every stored",
        f"  score (the time is mostly the backtest, which scores the ~{outcomes:,} past outcomes "
        "at their",
        "  handoff time with all rules); editing or adding a rule evaluates that rule only, over",
        "  the events it can see. A draft in which every rule differs is the worst case: every",
        "  lead's events are loaded and scored, about 5 µs per event and 110 µs per lead of CPU,",
        "  split over the worker processes; more CPUs make it proportionally faster.",
        "- A rule change is applied in the background: the build is per-lead Python (the same",
        "  engine), the swap is set-based SQL in one transaction, during which live scoring",
        "  waits (it never reads half of it). The lead list shows the old scores until the swap.",
        "- The hourly refresh visits only the leads whose score can change by then (their",
        "  stored `next_change_at`, docs/scoring.md), each pass an hour after the last; a lead",
        "  that only fading changes is moved forward from its stored fading sums in one SQL",
        "  statement per batch (equal to `engine.refade`, property-tested), the others are",
        "  re-scored from their events; only leads whose score rose go to qualification.",
        f"- Live scoring is measured with one process draining the queue in batches of "
        f"{live.get('batch', 200)}",
        "  (selecting, locking, scoring and writing; then handoff's qualification of the scored",
        "  leads); workers scale it out.",
    ]
    loaded = results.get("loaded") or {}
    if loaded:
        lines += [
            "",
            f"Loading the data with COPY took {loaded['seconds']} s ({loaded['leads']:,} leads, "
            f"{loaded['events']:,} events, {loaded['outcomes']:,} leads with outcomes; each lead "
            "with its score row and lifecycle row).",
        ]
    lines.append(END)
    return "\n".join(lines)


def _cache(results: dict[str, Any]) -> str:
    if results.get("cache") == "redis":
        return "Redis as the cache, as in production: the backtest reuses its parts there"
    return (
        "no Redis: the embedded default's memory cache (300 entries), so the backtest "
        "scores its outcomes again every time"
    )


def _refresh_rows(refresh: dict[str, Any], unit: float, *, leads: int) -> list[str]:
    """The refresh figures: the natural hour, the shares of leads due, the larger count."""
    natural, larger = refresh["natural"], refresh["larger"]

    def row(label: str, run: dict[str, Any]) -> str:
        seconds = run["seconds"]
        return (
            f"| {label}: {run['visited']:,} visited, {run['changed']:,} changed, then "
            f"qualification | {_ratio(seconds, unit)} | {seconds:.1f} s "
            f"| {run['visited'] / seconds:,.0f} leads/s |"
        )

    rows = [
        row(
            f"hourly refresh an hour after the re-score, of the leads whose score can change "
            f"within it ({natural['due'] / leads * 100:.0f} % of {leads:,})",
            natural,
        )
    ]
    rows += [row(f"refresh with {s['percent']} % of leads due", s) for s in refresh["shares"]]
    if larger:
        rows.append(
            row(
                f"refresh with 1 % due among {leads + larger['idle']:,} leads "
                f"({larger['idle']:,} idle ones added with SQL, none due)",
                larger,
            )
        )
    return rows


def _refresh_reading(refresh: dict[str, Any], unit: float, *, leads: int) -> list[str]:
    """The refresh at 1M leads an hour, from this run's cost per visited lead."""
    first, full, larger = refresh["shares"][0], refresh["shares"][-1], refresh["larger"]
    per_lead = full["seconds"] / max(1, full["visited"])
    share = refresh["natural"]["due"] / leads
    million, yard = 1_000_000, unit / leads * 1_000_000

    def hourly(fraction: float) -> str:
        seconds = fraction * million * per_lead
        return f"{seconds:,.0f} s ({seconds / yard:.1f} × the yardstick at 1M leads)"

    return [
        f"The time-driven refresh (target: its cost grows with the leads whose score can "
        f"change, and 1M leads refreshed in < 60 s of worker time per hour): it costs "
        f"{per_lead * 1000:.2f} ms per lead visited (with 100 % due) and about nothing per lead "
        f"that cannot change: the same {first['visited']:,} due leads took "
        f"{first['seconds']:.2f} s among {leads:,} leads and {larger.get('seconds', 0):.2f} s "
        f"among {leads + larger.get('idle', 0):,}. At 1M leads an hour "
        f"takes: with this data's {share * 100:.0f} % of leads able to change within an hour "
        f"(half-lives of 30–45 days move most contributions by a cent within hours) "
        f"**{hourly(share)}**; with 10 % {hourly(0.10)}; with 1 % {hourly(0.01)}.",
    ]


def _times(runs: int) -> str:
    return f"median of {runs}" if runs > 1 else "one run of each draft"


LOAD_START, LOAD_END = "<!-- bench:load:start -->", "<!-- bench:load:end -->"


def _median(runs: list[dict[str, Any]], *path: str) -> float:
    values = []
    for run in runs:
        value: Any = run
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, int | float):
            values.append(float(value))
    return statistics.median(values) if values else float("nan")


def _nice_text(run: dict[str, Any]) -> str:
    """How the workers share the CPU with the web (docs/scaling.md, "One host")."""
    nice = run.get("worker_nice", 0)
    if not nice:
        return "; at the web's CPU priority"
    return (
        f"; at nice {nice}, the CPU the web leaves, as docker-compose's `cpu_shares` gives "
        "them on a shared host"
    )


def render_load(load: dict[str, Any], *, machine: str) -> str:
    """The load section: the issue's figures as ratios to COPY measured in the same run."""
    runs = load["runs"]
    first = runs[0]
    copy = _median(runs, "yardstick", "rows_per_s")
    ingest = _median(runs, "full", "ingest_per_s")
    e2e = _median(runs, "full", "end_to_end_per_s")
    # Each run against its own yardstick, then the median of those ratios.
    ingest_ratio = statistics.median(
        r["full"]["ingest_per_s"] / r["yardstick"]["rows_per_s"] for r in runs
    )
    e2e_ratio = statistics.median(
        r["full"]["end_to_end_per_s"] / r["yardstick"]["rows_per_s"] for r in runs
    )
    half_p50 = _median(runs, "half", "probe", "p50_s")
    half_p95 = _median(runs, "half", "probe", "p95_s")
    full_p50 = _median(runs, "full", "probe", "p50_s")
    full_p95 = _median(runs, "full", "probe", "p95_s")
    rate = _median(runs, "half", "rate")
    rss = max(run.get("worker_peak_rss_mb") or 0 for run in runs)
    lost = [
        run["expected_events"] - run["stored"]["events"]
        for run in runs
        if run["stored"]["events"] < run["expected_events"]
    ]

    def met(ok: bool) -> str:
        return "met" if ok else "**missed**"

    def latency(p50: float, p95: float) -> str:
        # A phase shorter than one probe's round trip (BENCH_SCALE=tiny) has no sample.
        if math.isnan(p50) or math.isnan(p95):
            return "no probe answered before the phase ended"
        return f"p50 {p50:.2f} s, p95 {p95:.2f} s"

    lines = [
        LOAD_START,
        "## Under load: the real stack",
        "",
        f"Run {datetime.now(UTC).date().isoformat()} on {machine}: gunicorn "
        f"({first['web_workers']} sync workers), Celery workers as docker-compose runs them "
        f"(a pool of {first['worker_processes']} processes on the scoring queue, "
        f"{first.get('ingest_processes', 1)} on ingest, one on handoff and webhooks"
        f"{_nice_text(first)}), PostgreSQL and Redis, all "
        "on this machine. "
        f"{first['leads']:,} leads (one "
        f"identify each, first), then {first['events']:,} page and track events for them in "
        f"`/v1/batch` bodies of {first['batch']} from {first['clients']} client threads as fast "
        f"as they are answered; then {first['events']:,} more at half the end-to-end rate "
        "measured there (the load the stack sustains: large batches are accepted faster, into "
        "the inbox, docs/ingestion.md). A probe lead "
        "gets one event at a time meanwhile, and `GET /api/leads/<id>/score/` is polled until its "
        f"breakdown counts it. Medians of {len(runs)} run(s), each on a fresh database.",
        "",
        f"Yardstick: PostgreSQL's own `COPY` of the same {first['yardstick']['rows']:,} rows "
        f"into a table with three indexes, in the same run: {copy:,.0f} rows/s (median; each "
        "run's figures are divided by its own).",
        "",
        "| figure | measured | × COPY | target | |",
        "|---|---|---|---|---|",
        f"| ingest: events accepted (200, durable) | {ingest:,.0f} events/s "
        f"| {ingest_ratio:.3f} | ≥ 0.40 | {met(ingest_ratio >= 0.40)} |",
        f"| end to end: stored, scored and qualified | {e2e:,.0f} events/s "
        f"| {e2e_ratio:.3f} | ≥ 0.15 | {met(e2e_ratio >= 0.15)} |",
        f"| event → score visible, at half load ({rate:,.0f} events/s) "
        f"| {latency(half_p50, half_p95)} | | p95 < 1 s | {met(half_p95 < 1)} |",
        f"| event → score visible, at full load | {latency(full_p50, full_p95)} | | | |",
        f"| peak RSS of one worker process | {rss:,.0f} MB | | < 512 MB | {met(rss < 512)} |",
        "",
        *(
            [f"Probes never seen within 60 s (counted as 60 s above): {timeouts}.", ""]
            if (
                timeouts := sum(
                    (r.get(phase, {}).get("probe", {}).get("timeouts") or 0)
                    for r in runs
                    for phase in ("full", "half")
                )
            )
            else []
        ),
        *_cores(runs),
        "Every event sent was stored once: "
        + ("yes, in every run." if not lost else f"**no**: missing {lost}."),
        LOAD_END,
    ]
    return "\n".join(lines)


def _cores(runs: list[dict[str, Any]]) -> list[str]:
    """Where the CPU went in the full-load phase (cores kept busy, medians of the runs)."""
    parts = [
        name for name in runs[0].get("cores_full") or {} if all("cores_full" in r for r in runs)
    ]
    if not parts:
        return []
    busy = {name: statistics.median(r["cores_full"][name] for r in runs) for name in parts}
    shown = ", ".join(f"{name} {cores:.2f}" for name, cores in busy.items())
    total = f"{sum(busy.values()):.2f} of the machine's {os.cpu_count()}"
    lines = [f"Cores kept busy from the first request of the full load until it settled: "
             f"{shown} ({total}).", ""]  # fmt: skip
    if all(r.get("drained_full") for r in runs):
        queues = [q for q in ("inbox", "score", "qualify") if q in runs[0]["drained_full"]]
        last = {q: statistics.median(r["drained_full"].get(q, 0.0) for r in runs) for q in queues}
        sent = statistics.median(r["full"]["seconds"] for r in runs)
        shown = ", ".join(f"{q} {at:.1f} s" for q, at in last.items())
        lines += [f"The senders had their answers after {sent:.1f} s; each queue last held "
                  f"work at: {shown} (medians, from the first request).", ""]  # fmt: skip
    return lines


def write_load(path: Path, load: dict[str, Any], *, machine: str) -> None:
    _section_write(path, render_load(load, machine=machine), LOAD_START, LOAD_END)


def write(path: Path, results: dict[str, Any], *, leads: int) -> None:
    _section_write(path, render(results, leads=leads), START, END)


def _section_write(path: Path, section: str, start: str, end: str) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else HEADER
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text)
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text, encoding="utf-8")
