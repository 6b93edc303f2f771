"""`make bench` end to end at BENCH_SCALE=tiny: the benchmark still runs against the schema and
produces every figure. No timing is asserted; the report goes to a temporary file."""

import math
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse, urlunparse

from scoring.tasks import SCORE_BATCH
from tests.conftest import ROOT, requires_postgres

pytestmark = requires_postgres


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _table(lines: list[str], header: str) -> list[list[str]]:
    """The rows under the table whose header row starts with `header`."""
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {header} |"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append(_cells(line))
    return rows


def _number(cell: str) -> float:
    value = float(cell.split(maxsplit=1)[0].replace(",", ""))
    assert math.isfinite(value), cell
    assert value >= 0, cell
    return value


def _count(cell: str, *, most: int) -> int:
    value = _number(cell)
    assert value.is_integer(), cell
    assert value <= most, cell
    return int(value)


def _scoring_leads(text: str) -> int:
    """How many leads the scoring bench built (its section's first line says)."""
    found = re.search(r"([\d,]+) leads with [\d,]+ events", text)
    assert found, "the scoring section names its leads"
    return int(found.group(1).replace(",", ""))


def test_bench_tiny_produces_every_figure(tmp_path: Path) -> None:
    from tests.bench.scoring import SCENARIOS

    url = urlparse(os.environ["DATABASE_URL"])
    # A database name of this run's own (the benchmark adds "_bench_tiny" and drops it).
    base = f"{url.path.lstrip('/')}_smoke{os.getpid()}"
    report = tmp_path / "benchmarks.md"
    env = {
        **os.environ,
        "DATABASE_URL": urlunparse(url._replace(path="/" + base)),
        "BENCH_SCALE": "tiny",
        "DEBUG": "true",
    }
    done = subprocess.run(
        [sys.executable, "-m", "tests.bench", "--report", str(report), "--drop"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    text = report.read_text(encoding="utf-8")
    assert text.startswith("# Benchmarks")
    assert "<!-- bench:scoring:start -->" in text
    assert "<!-- bench:scoring:end -->" in text
    lines = text.splitlines()
    assert "200 leads with" in text
    assert any(line.startswith("Yardstick: one plain read") for line in lines)

    figures = _table(lines, "what")
    labels = [row[0] for row in figures]
    assert len(figures) == 9, labels
    for start in (
        "rule change: re-score every lead",
        "rule change: the swap",
        "rule change, end to end",
        "hourly refresh an hour after the re-score",
        "refresh with 1 % of leads due",
        "refresh with 10 % of leads due",
        "refresh with 100 % of leads due",
        "refresh with 1 % due among",
        f"live scoring, batches of {SCORE_BATCH}",
    ):
        assert any(label.startswith(start) for label in labels), (start, labels)
    for row in figures:
        assert len(row) == 4, row
        _number(row[1])  # × yardstick
        assert row[2].endswith(" s"), row
        _number(row[2])
        if not row[0].startswith("rule change: the swap"):
            assert row[3].endswith(" leads/s"), row
            assert _number(row[3]) > 0, row

    simulator = _table(lines, "draft")
    assert [row[0] for row in simulator] == [label for label, _ in SCENARIOS]
    for row in simulator:
        assert len(row) == 7, row
        _number(row[1])
        _number(row[2])
        assert int(row[4]) >= 0, row
        _count(row[5], most=_scoring_leads(text))  # would qualify: a count of the bench's leads
        assert _number(row[6]) > 0, row  # the backtest saw the past outcomes

    assert any("for that one call" in line and "× yardstick" in line for line in lines), (
        "the first simulation's time"
    )
    assert any(line.startswith("Loading the data with COPY took") for line in lines)
    assert re.search(r"takes \*\*\d+\.\d × the SQL aggregate\*\*", text), "re-score ÷ SQL"
    assert re.search(
        r"At 1M leads an hour takes: .* \*\*[\d,]+ s \(\d+\.\d × the yardstick", text
    ), "the refresh at 1M leads"
    assert not re.search(r"\b(nan|inf)\b", text, re.IGNORECASE)

    _load_section_checked(text, lines)


def _load_section_checked(text: str, lines: list[str]) -> None:
    """The load benchmark ran the real stack (gunicorn, Celery workers) and wrote its
    figures."""
    assert "<!-- bench:load:start -->" in text
    assert "<!-- bench:load:end -->" in text
    assert "at nice 19, the CPU the web leaves" in text  # the workers as compose runs them
    assert any(line.startswith("Yardstick: PostgreSQL's own `COPY`") for line in lines)
    load = {row[0].split(":")[0].split(" (")[0]: row for row in _table(lines, "figure")}
    assert list(load) == [
        "ingest",
        "end to end",
        "event → score visible, at half load",
        "event → score visible, at full load",
        "peak RSS of one worker process",
    ], list(load)
    for label in ("ingest", "end to end"):
        assert load[label][1].endswith(" events/s"), load[label]
        assert _number(load[label][1]) > 0
        assert 0 < _number(load[label][2]) < 10  # × COPY
    half = load["event → score visible, at half load"][1]
    assert re.fullmatch(r"p50 \d+\.\d\d s, p95 \d+\.\d\d s", half), half  # probes answered
    assert _number(load["peak RSS of one worker process"][1]) > 0
    assert "Every event sent was stored once: yes, in every run." in text
