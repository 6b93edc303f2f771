"""Write benchmark results into docs/benchmarks.md (only this run's section is replaced)."""

import re
from datetime import date
from pathlib import Path
from typing import Any

START, END = "<!-- bench:scoring:start -->", "<!-- bench:scoring:end -->"
HEADER = """# Benchmarks

Measured by `make bench` (`python -m tests.bench`), which builds a database of its own
(`<DATABASE_URL name>_bench`) with COPY and times the real code paths. Numbers are from one
machine and are noisy (other work shares it); compare ratios, not absolute times.
"""


def render(results: dict[str, Any], *, leads: int) -> str:
    rescore, refresh, live = results["rescore"], results["refresh"], results["live"]
    total = rescore["build_s"] + rescore["swap_s"]
    lines = [
        START,
        "## Scoring",
        "",
        f"Run {date.today().isoformat()} on {results['machine']}, PostgreSQL, "
        f"{leads:,} leads with {results['events']:,} events (~{results['events'] // leads} "
        "each, over 180 days), the seed article's 12 rules, 5 % of leads with past sales "
        "outcomes (accepted, rejected, won, lost).",
        "",
        "| what | time | rate |",
        "|---|---|---|",
        f"| rule change: re-score every lead into the job's results | {rescore['build_s']:.1f} s "
        f"| {rescore['leads'] / rescore['build_s']:,.0f} leads/s |",
        f"| rule change: the swap (one transaction, {rescore['changed']:,} scores changed) "
        f"| {rescore['swap_s']:.1f} s | |",
        f"| rule change, end to end | {total:.1f} s | {rescore['leads'] / total:,.0f} leads/s |",
        f"| hourly refresh of every lead ({refresh['changed']:,} changed) "
        f"| {refresh['seconds']:.1f} s | {refresh['leads'] / refresh['seconds']:,.0f} leads/s |",
        f"| live scoring, batches of 200 from the queue ({live['leads']:,} leads) "
        f"| {live['seconds']:.1f} s | {live['leads'] / live['seconds']:,.0f} leads/s |",
        "",
        f"Simulator, `POST /api/scoring/simulate/` through the API with {results['processes']} "
        "worker processes (median of 3; the backtest included; threshold 80):",
        "",
        "| draft | median | min – max | rules evaluated | would qualify | backtest leads |",
        "|---|---|---|---|---|---|",
    ]
    warmup = results["simulator"][0]
    for row in results["simulator"][1:]:
        lines.append(
            f"| {row['scenario']} | {row['median_s']:.2f} s | {row['min_s']:.2f} – "
            f"{row['max_s']:.2f} s | {row['rules_evaluated']} | {row['would_qualify']:,} "
            f"| {row['backtest_leads']:,} |"
        )
    lines += [
        "",
        f"The first large simulation of a server process also starts the worker processes: "
        f"{warmup['seconds']:.1f} s for that one call.",
        "",
        "Reading the numbers:",
        "",
        "- The common simulations are the cheap ones: moving the threshold reuses every stored",
        "  score (the time is mostly the backtest, which scores the ~7,500 past outcomes at their",
        "  handoff time with all rules); editing or adding a rule evaluates that rule only, over",
        "  the events it can see. A draft in which every rule differs is the worst case: every",
        "  lead's events are loaded and scored, about 5 µs per event and 110 µs per lead of CPU,",
        "  split over the worker processes; more CPUs make it proportionally faster.",
        "- A rule change is applied in the background: the build is per-lead Python (the same",
        "  engine), the swap is set-based SQL in one transaction, during which live scoring",
        "  waits (it never reads half of it). The lead list shows the old scores until the swap.",
        "- The hourly refresh costs about as much CPU as a re-score but writes only what changed.",
        "- Live scoring is measured with one process draining the queue in batches of 200",
        "  (selecting, locking, scoring and writing); workers scale it out.",
    ]
    loaded = results.get("loaded") or {}
    if loaded:
        lines += [
            "",
            f"Loading the data with COPY took {loaded['seconds']} s ({loaded['leads']:,} leads, "
            f"{loaded['events']:,} events, {loaded['outcomes']:,} leads with outcomes).",
        ]
    lines.append(END)
    return "\n".join(lines)


def write(path: Path, results: dict[str, Any], *, leads: int) -> None:
    section = render(results, leads=leads)
    text = path.read_text(encoding="utf-8") if path.exists() else HEADER
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text)
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text, encoding="utf-8")
