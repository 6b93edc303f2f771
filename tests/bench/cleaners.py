"""The field cleaners on hostile input (issue 10): a 1 MB field, as `POST /f/<slug>/` or a CSV
cell can bring one, and the patterns themselves on 1 and 2 MB of the text that made the old
ones quadratic. `python -m tests.bench.cleaners [--report PATH]`; `make bench` runs it first.

Every figure is also given as a ratio to a yardstick timed in the same run on the same text: one
`str.lower()` of it (a single linear pass in C). The target: a 1 MB field is answered in less
than 50 ms. The old patterns are timed too, at sizes they finish in, to show the difference.
"""

import argparse
import os
import re
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[2]
START, END = "<!-- bench:cleaners:start -->", "<!-- bench:cleaners:end -->"
MEGABYTE = 1024 * 1024
TARGET_MS = 50
# The patterns before issue 10, for the comparison only (nothing in mqlapp uses them).
OLD_EXTENSION = re.compile(r"\s*(?:内線|ext\.?|x)\s*\d{1,6}\s*$", re.IGNORECASE)
OLD_EMPLOYEE_SUFFIX = re.compile(r"\s*(?:名|人|people|employees)\s*$", re.IGNORECASE)


def hostile(size: int) -> str:
    """A run of spaces between a digit and a letter: every position of the run retried the old
    patterns' leading `\\s*` to its end."""
    return "1" + " " * size + "a"


def _median_seconds(call: Callable[[], Any], *, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _swallow(call: Callable[[], Any]) -> Callable[[], Any]:
    def run() -> Any:
        try:
            return call()
        except ValueError as exc:
            return exc

    return run


def run(*, size: int = MEGABYTE) -> dict[str, Any]:
    from django.test import RequestFactory

    from mqlapp.leads.ingest import fields, forms

    text, double = hostile(size), hostile(2 * size)
    yardstick = _median_seconds(text.lower)
    form = dict.fromkeys(fields.LEAD_INPUT_FIELDS, text)
    body = urlencode({"email": "taro@example.co.jp", "phone": text, "employees": text})

    def post() -> Any:
        # What `POST /f/<slug>/` does before it touches the database: parse, map, clean.
        request = RequestFactory().post(
            "/f/bench/", data=body, content_type="application/x-www-form-urlencoded"
        )
        return fields.lead_input_clean(forms.submission_fields(request.POST.dict()))

    figures = {
        "post": _median_seconds(post),
        "form": _median_seconds(lambda: fields.lead_input_clean(form)),
        "phone": _median_seconds(lambda: fields.phone_valid(text)),
        "employees": _median_seconds(_swallow(lambda: fields.employees_parse(text))),
    }
    patterns = {}
    for name, pattern in (
        ("extension", fields._EXTENSION),
        ("employee suffix", fields._EMPLOYEE_SUFFIX),
    ):
        one = _median_seconds(lambda p=pattern: fields._suffix_cut(text, p), repeat=3)
        two = _median_seconds(lambda p=pattern: fields._suffix_cut(double, p), repeat=3)
        patterns[name] = (one, two)
    old = {}
    small = 2_000
    for name, pattern in (("extension", OLD_EXTENSION), ("employee suffix", OLD_EMPLOYEE_SUFFIX)):
        one = _median_seconds(lambda p=pattern: p.sub("", hostile(small)), repeat=3)
        two = _median_seconds(lambda p=pattern: p.sub("", hostile(2 * small)), repeat=3)
        old[name] = (one, two)
    return {
        "size": size,
        "small": small,
        "yardstick": yardstick,
        "figures": figures,
        "patterns": patterns,
        "old": old,
    }


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f} ms" if seconds < 0.001 else f"{seconds * 1000:.1f} ms"


def render(results: dict[str, Any], *, machine: str) -> str:
    size, yard = results["size"], results["yardstick"]
    figures = results["figures"]
    worst = max(figures.values())
    met = "met" if worst * 1000 < TARGET_MS else "**missed**"
    label = f"{size / MEGABYTE:g} MB" if size >= MEGABYTE else f"{size:,} characters"
    lines = [
        START,
        "## Field cleaners on hostile input",
        "",
        f"Run {datetime.now(UTC).date().isoformat()} on {machine}, by "
        "`python -m tests.bench.cleaners` (the first part of `make bench`). The text: one "
        f"digit, {label} of spaces, one letter: the shape on which the old phone-extension "
        "and employee-suffix patterns took time quadratic in its length (5.4 s for 16,000 "
        "characters through `POST /f/<slug>/`, issue 10).",
        "",
        f"Yardstick: one `str.lower()` of the same text, {_ms(yard)} in this run (median of 5). "
        "× yardstick is a figure's time divided by it.",
        "",
        f"| what ({label} field) | × yardstick | time |",
        "|---|---|---|",
        f"| a form post with this as phone and employees: parse the body, clean "
        f"(`POST /f/<slug>/` up to the database) | {figures['post'] / yard:.2f} | "
        f"{_ms(figures['post'])} |",
        f"| a form with this in every field (`lead_input_clean`) | "
        f"{figures['form'] / yard:.2f} | {_ms(figures['form'])} |",
        f"| `phone_valid` | {figures['phone'] / yard:.2f} | {_ms(figures['phone'])} |",
        f"| `employees_parse` | {figures['employees'] / yard:.2f} | {_ms(figures['employees'])} |",
        "",
        f"Target: a 1 MB field answered in less than {TARGET_MS} ms: {met} (slowest "
        f"{_ms(worst)}). The cleaners refuse a value longer than "
        "`fields.INPUT_MAX_CHARS` before they clean it or match any pattern, so the time "
        "does not grow with the field.",
        "",
        "The patterns themselves, without that bound (`fields._suffix_cut`), on the same text "
        "and on twice as much: linear, so twice the text takes about twice the time "
        "(quadratic would be four times).",
        "",
        "| pattern | × yardstick | time | 2× text ÷ 1× |",
        "|---|---|---|---|",
    ]
    for name, (one, two) in results["patterns"].items():
        lines.append(f"| {name} | {one / yard:.1f} | {_ms(one)} | {two / one:.1f} |")
    small = results["small"]
    lines += [
        "",
        f"The patterns before issue 10, on only {small:,} and {2 * small:,} characters:",
        "",
        f"| old pattern | time at {small:,} | at {2 * small:,} | ratio |",
        "|---|---|---|---|",
    ]
    for name, (one, two) in results["old"].items():
        lines.append(f"| {name} | {_ms(one)} | {_ms(two)} | {two / one:.1f} |")
    lines.append(END)
    return "\n".join(lines)


def _machine() -> str:
    import platform

    return f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.cleaners")
    parser.add_argument("--report", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--size", type=int, default=MEGABYTE, help="characters in the field")
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mqlapp.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from tests.bench import report

    section = render(run(size=args.size), machine=_machine())
    report._section_write(args.report, section, START, END)
    print(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
