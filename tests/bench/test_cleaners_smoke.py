"""`python -m tests.bench.cleaners` end to end on a small field: it runs and writes every figure
into its own section of the report. No time is asserted (benchmarks measure, tests do not)."""

import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def test_cleaners_bench_writes_its_section(tmp_path: Path) -> None:
    report = tmp_path / "benchmarks.md"
    report.write_text("# Benchmarks\n\n<!-- bench:other:start -->kept<!-- bench:other:end -->\n")
    done = subprocess.run(
        [sys.executable, "-m", "tests.bench.cleaners", "--size", "20000", "--report", str(report)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    text = report.read_text(encoding="utf-8")
    assert "<!-- bench:other:start -->kept<!-- bench:other:end -->" in text
    section = text[text.index("<!-- bench:cleaners:start -->") :]
    assert section.rstrip().endswith("<!-- bench:cleaners:end -->")
    assert "Yardstick: one `str.lower()` of the same text" in section
    rows = [line for line in section.splitlines() if line.startswith("| ") and " ms |" in line]
    assert len(rows) == 4 + 2 + 2, rows  # cleaner figures, new patterns, old patterns
    assert "Target: a 1 MB field answered in less than 50 ms:" in section
