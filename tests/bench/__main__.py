"""`python -m tests.bench`: build the benchmark database, measure scoring, update the docs.

First the field cleaners on a 1 MB field (tests/bench/cleaners.py, no database), then the
load benchmark (tests/bench/load.py: gunicorn, a Celery worker, PostgreSQL and Redis under
/v1/batch traffic), then the scoring figures; BENCH_ONLY=cleaners, load or scoring runs one
of them. BENCH_SCALE picks the size: full (the default: 100,000 leads x ~20 events),
small (20,000 leads, the smallest at which the simulator uses its worker processes) or tiny
(200 leads: the smoke test); the load benchmark's sizes are in tests/bench/load.py. The data
goes to a database of its own (DATABASE_URL's name + "_bench", or
"_bench_<scale>" below full), rebuilt unless `--reuse` finds one of the same size.
Options: --leads --events (override the scale), --reuse, --report PATH (default
docs/benchmarks.md), --drop (drop the database at the end).
"""

import argparse
import logging
import multiprocessing
import os
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parents[2]
# BENCH_SCALE -> (leads, average events per lead, leads drained by the live-scoring figure)
SCALES = {
    "full": (100_000, 20, 10_000),
    "small": (20_000, 20, 2_000),
    "tiny": (200, 10, 20),
}
# BENCH_SCALE -> how many times each simulator draft is timed (the full run's figures are
# medians; the small run is the quick check the issue asks to take about a minute)
SIMULATOR_RUNS = {"full": 3, "small": 1, "tiny": 1}


def _bench_url(url: str, scale: str) -> tuple[str, str]:
    parsed = urlparse(url)
    name = parsed.path.lstrip("/") + ("_bench" if scale == "full" else f"_bench_{scale}")
    return urlunparse(parsed._replace(path="/" + name)), name


def _admin(url: str) -> Any:
    import psycopg2

    parsed = urlparse(url)
    admin = psycopg2.connect(
        host=parsed.hostname, port=parsed.port or 5432, user=parsed.username or "postgres",
        password=parsed.password or None, dbname="postgres",
    )  # fmt: skip
    admin.autocommit = True
    return admin


def _database_drop(url: str, name: str) -> None:
    admin = _admin(url)
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


def _database_prepare(url: str, name: str, *, reuse: bool, size: str) -> bool:
    """Create the database unless reusing one of this size; True when data must be loaded."""
    admin = _admin(url)
    with admin.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        exists = cursor.fetchone() is not None
        if exists and reuse:
            cursor.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database "
                           "WHERE datname = %s", [name])  # fmt: skip
            if cursor.fetchone()[0] == size:
                admin.close()
                return False
        if exists:
            cursor.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')
        cursor.execute(f'COMMENT ON DATABASE "{name}" IS %s', [size])
    admin.close()
    return True


def main(argv: list[str] | None = None) -> int:
    scale = os.environ.get("BENCH_SCALE", "") or "full"
    if scale not in SCALES:
        print(f"BENCH_SCALE must be one of {', '.join(SCALES)}", file=sys.stderr)
        return 1
    leads, events, live = SCALES[scale]
    parser = argparse.ArgumentParser(prog="python -m tests.bench")
    parser.add_argument("--leads", type=int, default=leads)
    parser.add_argument("--events", type=int, default=events, help="average events per lead")
    parser.add_argument("--reuse", action="store_true", help="keep data of the same size")
    parser.add_argument("--report", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--drop", action="store_true", help="drop the database at the end")
    args = parser.parse_args(argv)
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        print("make bench needs PostgreSQL: set DATABASE_URL", file=sys.stderr)
        return 1
    only = os.environ.get("BENCH_ONLY", "")
    if only in ("", "cleaners"):
        # Quick and without a database: the field cleaners on a 1 MB field.
        done = _cleaners(report_path=args.report)
        if done or only == "cleaners":
            return done
    if only in ("", "load"):
        # First, on a quiet machine: the real stack under load, in a child process of its own.
        done = _load(url, scale=scale, report_path=args.report)
        if done or only == "load":
            return done
    bench_url, name = _bench_url(url, scale)
    size = f"mqlapp bench: {args.leads} leads x {args.events} events"
    load = _database_prepare(url, name, reuse=args.reuse, size=size)
    try:
        return _run(bench_url, load=load, leads=args.leads, events=args.events,
                    live=min(live, args.leads), simulator_runs=SIMULATOR_RUNS[scale],
                    report_path=args.report)  # fmt: skip
    finally:
        if args.drop:
            from django.conf import settings
            from django.db import connections

            if settings.configured:
                connections.close_all()
            _database_drop(url, name)


def _machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"


def _cleaners(*, report_path: Path) -> int:
    """`tests/bench/cleaners.py` in a process of its own (it sets Django up its own way)."""
    import subprocess

    done = subprocess.run(
        [sys.executable, "-m", "tests.bench.cleaners", "--report", str(report_path)],
        cwd=ROOT, check=False,
    )  # fmt: skip
    return done.returncode


def _load(url: str, *, scale: str, report_path: Path) -> int:
    """`tests/bench/load.py` on a database of its own; its figures go into the report."""
    import json
    import subprocess
    import tempfile

    load_url, _ = _bench_url(url, scale)
    load_url += "_load"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "load.json"
        done = subprocess.run(
            [sys.executable, "-m", "tests.bench.load", "--database-url", load_url,
             "--out", str(out)],
            cwd=ROOT, env={**os.environ, "BENCH_SCALE": scale}, check=False,
        )  # fmt: skip
        if done.returncode:
            print("the load benchmark failed (logs: .run/bench-web.log, .run/bench-worker.log)",
                  file=sys.stderr)  # fmt: skip
            return done.returncode
        results = json.loads(out.read_text())
    from tests.bench import report

    report.write_load(report_path, results, machine=_machine())
    print(report.render_load(results, machine=_machine()))
    return 0


def _redis_answers(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=2).ping())
    except redis.RedisError:
        return False


def _run(
    bench_url: str, *, load: bool, leads: int, events: int, live: int, simulator_runs: int,
    report_path: Path,
) -> int:  # fmt: skip
    os.environ["DATABASE_URL"] = bench_url
    # The cache is Redis, as in production (the simulator's backtest keeps its parts there;
    # the memory cache of the embedded default holds 300 entries), when one answers.
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/3")
    if _redis_answers(redis_url):
        os.environ["REDIS_URL"] = redis_url
    else:
        os.environ.pop("REDIS_URL", None)
    os.environ["CELERY_BROKER_URL"] = ""  # tasks run in-process
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mqlapp.settings")
    sys.path.insert(0, str(ROOT))

    import django
    from django.conf import settings
    from django.core.management import call_command

    django.setup()
    settings.DEBUG = False  # no query log
    from mqlapp.leads.process import process_tune

    process_tune()  # as the web and worker processes that run these paths do
    logging.getLogger("celery").setLevel(logging.WARNING)
    from tests.bench import report, scoring

    loaded: dict[str, object] = {}
    if load:
        call_command("migrate", verbosity=0)
        started = time.perf_counter()
        # in a process of its own: the generator's memory is not the scoring paths' (their
        # peak resident set is a figure of this run)
        from scoring import procpool

        spawn = multiprocessing.get_context("spawn")
        settings_module = os.environ["DJANGO_SETTINGS_MODULE"]
        with ProcessPoolExecutor(
            max_workers=1, mp_context=spawn, initializer=procpool.worker_init,
            initargs=(settings_module, {}),
        ) as loader:  # fmt: skip
            generated = loader.submit(procpool.call, "tests.bench.data", "generated",
                                      (leads, events))  # fmt: skip
            loaded = dict(generated.result())
        loaded["seconds"] = round(time.perf_counter() - started, 1)
        print(f"loaded {loaded}", flush=True)
    results = scoring.run(live_leads=live, simulator_runs=simulator_runs)
    results["loaded"] = loaded
    results["machine"] = _machine()
    from scoring.services.parallel import pool_shutdown

    pool_shutdown()
    report.write(report_path, results, leads=leads)
    print(report.render(results, leads=leads))
    return 0


if __name__ == "__main__":
    sys.exit(main())
