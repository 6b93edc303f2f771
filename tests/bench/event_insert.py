"""`python -m tests.bench.event_insert`: the event insert alone, in rows per second.

Batches of 500 new events (~200 B of JSON each, 1,000 leads), one transaction per batch, as
`events_ingest` writes them, on two scratch databases made from DATABASE_URL's name:
`_ins_plain` stays at migration leads 0002 (the plain table with its unique messageId, where
`bulk_create(ignore_conflicts=True)` is the old path) and `_ins_part` is fully migrated (the
partitioned table and its key table). Each figure is measured in its own process, the
methods taking turns for --rounds rounds; the median is printed, beside PostgreSQL's COPY of
the same rows into a table with three indexes (the yardstick of tests/bench/load.py).
Nothing here asserts a time; docs/partitioning.md has the figures.
"""

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parents[2]
BATCH = 500
# method → (database suffix, what it measures)
METHODS = {
    "copy": ("_ins_part", "COPY into a table with 3 indexes (yardstick)"),
    "bulk_plain": ("_ins_plain", "bulk_create(ignore_conflicts=True), plain table (before)"),
    "bulk_part": ("_ins_part", "bulk_create(ignore_conflicts=True), partitioned table"),
    "unnest": ("_ins_part", "keys + events, unnest of one typed array per column"),
    "events_insert": ("_ins_part", "events_insert: keys + events, one JSON document"),
}


def _url(base: str, suffix: str) -> str:
    parsed = urlparse(base)
    return urlunparse(parsed._replace(path="/" + parsed.path.lstrip("/") + suffix))


def _prepare(base: str) -> None:
    """Both scratch databases from nothing, migrated, with 1,000 leads and a source."""
    from tests.bench.__main__ import _admin

    _drop(base)
    admin = _admin(base)
    with admin.cursor() as cursor:
        for suffix in ("_ins_plain", "_ins_part"):
            cursor.execute(f'CREATE DATABASE "{urlparse(_url(base, suffix)).path.lstrip("/")}"')
    admin.close()
    for suffix, target in (("_ins_plain", ["leads", "0002"]), ("_ins_part", [])):
        code = (
            "import django; django.setup(); from django.core.management import call_command; "
            f"call_command('migrate', *{target!r}, verbosity=0); "
            "from mqlapp.leads.models import Lead, Source; Source.objects.create(name='bench'); "
            "Lead.objects.bulk_create([Lead(email=f'b{i}@bench.example') for i in range(1000)])"
        )
        _child(base, suffix, ["-c", code])


def _drop(base: str) -> None:
    from tests.bench.__main__ import _admin

    admin = _admin(base)
    with admin.cursor() as cursor:
        for suffix in ("_ins_plain", "_ins_part"):
            name = urlparse(_url(base, suffix)).path.lstrip("/")
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


def _child(base: str, suffix: str, args: list[str]) -> str:
    env = {**os.environ, "DATABASE_URL": _url(base, suffix), "DEBUG": "false",
           "SECRET_KEY": "bench-" + "x" * 40, "DJANGO_SETTINGS_MODULE": "mqlapp.settings",
           "CELERY_BROKER_URL": ""}  # fmt: skip
    done = subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode:
        raise RuntimeError(done.stdout[-2000:] + done.stderr[-2000:])
    return done.stdout


def _rows(count: int, rng: random.Random) -> list[Any]:
    from mqlapp.leads.event_store import EventRow
    from mqlapp.leads.models import Lead, Source
    from tests.bench.data import ACTIVITY, CONTEXT

    now = datetime.now(UTC)
    leads = list(Lead.objects.values_list("pk", flat=True))
    source = Source.objects.get().pk
    weights = [w for _, _, w, _ in ACTIVITY]
    rows = []
    for _ in range(count):
        kind, name, _, props = rng.choices(ACTIVITY, weights)[0]
        at = now - timedelta(seconds=rng.randint(0, 20 * 86400))
        rows.append(
            EventRow(message_id=str(uuid.uuid4()), type=kind, timestamp=at, received_at=now,
                     sent_at=now, lead_id=rng.choice(leads), source_id=source,
                     anonymous_id=str(uuid.uuid4()), user_id=f"u{rng.randint(1, 9999)}",
                     name=name, properties=props(rng), context=CONTEXT)
        )  # fmt: skip
    return rows


def _unnest_insert(rows: list[Any]) -> int:
    """The statement the issue first suggested: one typed array per column, json as text[]."""
    import orjson
    from django.db import connection

    from mqlapp.leads.event_store import COLUMN_TYPES, FIELDS

    columns = ", ".join(f'"{n}"' for n in FIELDS)
    arrays = ", ".join(f"%s::{COLUMN_TYPES[n]}[]" for n in FIELDS)
    sql = (
        'WITH fresh AS (INSERT INTO leads_eventkey (message_id, "timestamp") '
        "SELECT * FROM unnest(%s::varchar[], %s::timestamptz[]) "
        "ON CONFLICT DO NOTHING RETURNING message_id) "
        f"INSERT INTO leads_event ({columns}) SELECT u.* FROM unnest({arrays}) AS u({columns}) "
        "WHERE u.message_id IN (SELECT message_id FROM fresh)"
    )
    ordered = sorted(rows, key=lambda r: r.message_id)
    values = list(zip(*ordered, strict=True))
    params: list[Any] = [list(values[0]), list(values[2])]
    for name, column in zip(FIELDS, values, strict=True):
        json = COLUMN_TYPES[name] == "jsonb"
        params.append([orjson.dumps(v).decode() for v in column] if json else list(column))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.rowcount)


def _bulk(rows: list[Any]) -> int:
    from mqlapp.leads.event_store import FIELDS
    from mqlapp.leads.models import Event

    events = [Event(**dict(zip(FIELDS, row, strict=True))) for row in rows]
    Event.objects.bulk_create(events, ignore_conflicts=True, batch_size=500)
    return len(rows)


def _copy(rows: list[Any]) -> float:
    import orjson

    from tests.bench.load import copy_seconds, copy_text

    text = copy_text(
        [r.message_id, str(r.lead_id), r.type, r.name, orjson.dumps(r.properties).decode(),
         orjson.dumps(r.context).decode(), r.timestamp.isoformat()]
        for r in rows
    )  # fmt: skip
    return len(rows) / copy_seconds(text)


def measure(method: str, batches: int) -> float:
    """In the child process: rows per second of `method` over `batches` batches."""
    import django

    django.setup()
    from django.db import transaction

    from mqlapp.leads.event_store import events_insert

    rng = random.Random()
    data = [_rows(BATCH, rng) for _ in range(batches)]
    if method == "copy":
        return _copy([row for batch in data for row in batch])
    insert: Callable[[list[Any]], int] = {
        "bulk_plain": _bulk, "bulk_part": _bulk, "unnest": _unnest_insert,
        "events_insert": events_insert,
    }[method]  # fmt: skip
    with transaction.atomic():  # untimed: the connection, the catalog caches
        insert(_rows(BATCH, rng))
    seconds = 0.0
    for batch in data:
        started = time.perf_counter()
        with transaction.atomic():
            stored = insert(batch)
        seconds += time.perf_counter() - started
        if stored != BATCH:  # a method that stores the wrong rows must not be timed
            raise RuntimeError(f"{method} stored {stored} of {BATCH} rows")
    return BATCH * batches / seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(measure(args.measure, args.batches))
        return 0
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith("postgres"):
        print("DATABASE_URL must name a PostgreSQL database", file=sys.stderr)
        return 1
    _prepare(base)
    rates: dict[str, list[float]] = {method: [] for method in METHODS}
    for _ in range(args.rounds):
        for method, (suffix, _label) in METHODS.items():
            out = _child(base, suffix, ["-m", "tests.bench.event_insert", "--measure", method,
                                        "--batches", str(args.batches)])  # fmt: skip
            rates[method].append(float(out.strip().splitlines()[-1]))
    _drop(base)
    copy = statistics.median(rates["copy"])
    print(f"{args.batches} batches of {BATCH} new events, median of {args.rounds} rounds")
    print("| method | rows/s | × COPY | runs |\n|---|---|---|---|")
    for method, (_suffix, label) in METHODS.items():
        median = statistics.median(rates[method])
        runs = ", ".join(f"{r:,.0f}" for r in rates[method])
        print(f"| {label} | {median:,.0f} | {median / copy:.2f} | {runs} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
