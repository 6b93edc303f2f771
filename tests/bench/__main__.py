"""`python -m tests.bench`: build the benchmark database, measure scoring, update the docs.

The data goes to a database of its own (DATABASE_URL's name + "_bench"), rebuilt unless
`--reuse` finds one of the same size. Options: --leads 100000 --events 20 --reuse.
"""

import argparse
import logging
import os
import platform
import sys
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parents[2]


def _bench_url(url: str) -> tuple[str, str]:
    parsed = urlparse(url)
    name = parsed.path.lstrip("/") + "_bench"
    return urlunparse(parsed._replace(path="/" + name)), name


def _database_prepare(url: str, name: str, *, reuse: bool, size: str) -> bool:
    """Create the database unless reusing one of this size; True when data must be loaded."""
    import psycopg2

    parsed = urlparse(url)
    admin = psycopg2.connect(
        host=parsed.hostname, port=parsed.port or 5432, user=parsed.username or "postgres",
        password=parsed.password or None, dbname="postgres",
    )  # fmt: skip
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        exists = cursor.fetchone() is not None
        if exists and reuse:
            cursor.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database "
                           "WHERE datname = %s", [name])  # fmt: skip
            if cursor.fetchone()[0] == size:
                return False
        if exists:
            cursor.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')
        cursor.execute(f'COMMENT ON DATABASE "{name}" IS %s', [size])
    admin.close()
    return True


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench")
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=20, help="average events per lead")
    parser.add_argument("--reuse", action="store_true", help="keep data of the same size")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        print("make bench needs PostgreSQL: set DATABASE_URL", file=sys.stderr)
        return 1
    bench_url, name = _bench_url(url)
    size = f"mqlapp bench: {args.leads} leads x {args.events} events"
    load = _database_prepare(url, name, reuse=args.reuse, size=size)
    os.environ["DATABASE_URL"] = bench_url
    os.environ.pop("REDIS_URL", None)
    os.environ["CELERY_BROKER_URL"] = ""  # tasks run in-process
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mqlapp.settings")
    sys.path.insert(0, str(ROOT))

    import django
    from django.conf import settings
    from django.core.management import call_command

    django.setup()
    settings.DEBUG = False  # no query log
    logging.getLogger("celery").setLevel(logging.WARNING)
    from tests.bench import data, report, scoring

    loaded: dict[str, object] = {}
    if load:
        call_command("migrate", verbosity=0)
        started = time.perf_counter()
        loaded = data.leads_and_events(leads=args.leads, events=args.events)
        loaded["seconds"] = round(time.perf_counter() - started, 1)
        print(f"loaded {loaded}", flush=True)
    results = scoring.run()
    results["loaded"] = loaded
    results["machine"] = (
        f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    report.write(ROOT / "docs" / "benchmarks.md", results, leads=args.leads)
    print(report.render(results, leads=args.leads))
    return 0


if __name__ == "__main__":
    sys.exit(main())
