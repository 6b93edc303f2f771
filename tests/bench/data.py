"""Benchmark data: leads, ~20 events each and past sales outcomes, loaded with COPY.

A lead is a profile (leads_lead) plus the rows its owners create with it (the core's
`leads_created` hook): its score row (scoring_leadscore) and its lifecycle row
(handoff_leadlifecycle). COPY bypasses the hook, so those rows are copied here as well, with
the values the hook would give them."""

import csv
import io
import json
import random
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection

from mqlapp.leads.event_partitions import event_partitions_ensure

TITLES = ["部長", "課長", "主任", "担当", "本部長", "Manager", "Director", "Engineer"]
INDUSTRIES = ["製造", "物流", "IT", "商社", "医療", "金融"]
COUNTRIES = ["JP"] * 8 + ["US", "SG"]
# (type, name, weight, properties)
ACTIVITY: list[tuple[str, str, int, Any]] = [
    ("page", "", 50, lambda r: {"path": r.choice(["/", "/products", "/pricing", "/blog/dx"]),
                                "url": "https://example.co.jp/", "title": "Example"}),
    ("track", "Email Opened", 25, lambda r: {"campaign": f"nl-{r.randint(1, 30)}"}),
    ("track", "Email Link Clicked", 8, lambda r: {"campaign": f"nl-{r.randint(1, 30)}"}),
    ("track", "Document Downloaded", 8,
     lambda r: {"title": "DX推進ガイド", "category": r.choice(["whitepaper", "pricing", "case"])}),
    ("track", "Seminar Attended", 3, lambda r: {"name": "製造業DXセミナー"}),
    ("track", "Trade Show Visited", 2, lambda r: {"name": "Japan IT Week"}),
    ("track", "Webinar Attended", 2, lambda r: {"topic": "IoT"}),
    ("track", "Demo Requested", 1, lambda r: {}),
    ("track", "Unsubscribed", 1, lambda r: {}),
]  # fmt: skip
CONTEXT = {
    "ip": "203.0.113.7",
    "locale": "ja-JP",
    "userAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/126.0 Safari/537.36",
    "library": {"name": "analytics-python", "version": "2.3.3"},
}


def _columns(table: str) -> list[tuple[str, str, bool]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name, data_type, is_nullable = 'YES' FROM information_schema.columns "
            "WHERE table_name = %s ORDER BY ordinal_position",
            [table],
        )
        return list(cursor.fetchall())


def _default(data_type: str, now: datetime) -> Any:
    """A value for a NOT NULL column the generator does not know (another app's new field)."""
    if data_type in ("integer", "bigint", "smallint", "numeric", "double precision"):
        return 0
    if data_type == "boolean":
        return "false"
    if data_type == "jsonb":
        return "{}"
    if data_type.startswith("timestamp"):
        return now.isoformat()
    if data_type == "date":
        return now.date().isoformat()
    return ""


def copy_rows(
    table: str, rows: Iterable[Mapping[str, Any]], *, now: datetime, with_id: bool = False
) -> int:
    """COPY `rows` into `table`; NOT NULL columns a row lacks get a neutral value; ids are
    generated unless `with_id`."""
    columns = [c for c in _columns(table) if with_id or c[0] != "id"]
    names = [name for name, _, _ in columns]
    fill = {name: _default(kind, now) for name, kind, nullable in columns if not nullable}
    count = 0

    def chunks() -> Iterator[io.StringIO]:
        nonlocal count
        buffer, writer, size = io.StringIO(), None, 0
        for row in rows:
            if writer is None:
                writer = csv.writer(buffer)
            values = []
            for name in names:
                value = row.get(name, fill.get(name))
                if isinstance(value, dict | list):
                    value = json.dumps(value, ensure_ascii=False)
                values.append(r"\N" if value is None else value)
            writer.writerow(values)
            size += 1
            count += 1
            if size == 100_000:
                buffer.seek(0)
                yield buffer
                buffer, writer, size = io.StringIO(), None, 0
        if size:
            buffer.seek(0)
            yield buffer

    sql = f"COPY {table} ({', '.join(names)}) FROM STDIN WITH (FORMAT csv, NULL '\\N')"
    with connection.cursor() as cursor:
        for chunk in chunks():
            cursor.cursor.copy_expert(sql, chunk)
    if with_id:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
            )
    return count


def generated(leads: int, events: int) -> dict[str, int]:
    """`leads_and_events`, called by name in a process of its own (`scoring.procpool`)."""
    return leads_and_events(leads=leads, events=events)


def leads_and_events(*, leads: int, events: int, seed: int = 11) -> dict[str, int]:
    """`leads` leads with `events` events on average over 180 days, 5 % with outcomes."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    weights = [w for _, _, w, _ in ACTIVITY]

    def lead_rows() -> Iterator[dict[str, Any]]:
        for i in range(1, leads + 1):
            yield {
                "id": i, "email": f"lead{i}@bench{i % 997}.example.co.jp",
                "first_name": "太郎", "last_name": "佐藤", "company": f"株式会社ベンチ{i % 997}",
                "title": rng.choice(TITLES), "employees": rng.choice([20, 80, 150, 900, 3000]),
                "country": rng.choice(COUNTRIES), "industry": rng.choice(INDUSTRIES),
                "traits": {"plan": rng.choice(["free", "pro"])},
                "created_at": now.isoformat(), "updated_at": now.isoformat(),
            }  # fmt: skip

    def score_rows() -> Iterator[dict[str, Any]]:
        # scoring.services.score_rows_create: LeadScore(lead_id=...) with its defaults.
        for i in range(1, leads + 1):
            yield {"lead_id": i, "score": 0, "engagement": 0, "fit": 0, "breakdown": [],
                   "rules_version": 0}  # fmt: skip

    def lifecycle_rows() -> Iterator[dict[str, Any]]:
        # handoff.lead_rows.lifecycle_rows_create: LeadLifecycle(lead_id=...), nurturing.
        for i in range(1, leads + 1):
            yield {"lead_id": i, "stage": "nurturing", "cycle": 0, "updated_at": now.isoformat()}

    def event_rows() -> Iterator[dict[str, Any]]:
        for lead in range(1, leads + 1):
            for k in range(rng.randint(events // 2, events + events // 2)):
                kind, name, _, props = rng.choices(ACTIVITY, weights)[0]
                at = now - timedelta(seconds=rng.randint(0, 180 * 86400))
                yield {
                    "message_id": f"b{lead}-{k}", "lead_id": lead, "type": kind, "name": name,
                    "properties": props(rng), "context": CONTEXT, "traits": {},
                    "anonymous_id": "", "user_id": f"lead{lead}", "timestamp": at.isoformat(),
                    "received_at": at.isoformat(),
                }  # fmt: skip

    # The events table is partitioned by month (docs/partitioning.md): the months the data
    # spans get their partitions first, so the rows land in them, not in the DEFAULT one.
    event_partitions_ensure(now - timedelta(days=180), now)
    counts = {
        "leads": copy_rows("leads_lead", lead_rows(), now=now, with_id=True),
        "events": copy_rows("leads_event", event_rows(), now=now),
    }
    # Ingestion writes each event's messageId to the key table in the same statement
    # (event_store.events_insert); COPY does not, so the keys are added here.
    with connection.cursor() as cursor:
        cursor.execute(
            'INSERT INTO leads_eventkey (message_id, "timestamp") '
            'SELECT message_id, "timestamp" FROM leads_event'
        )
    copy_rows("scoring_leadscore", score_rows(), now=now)
    copy_rows("handoff_leadlifecycle", lifecycle_rows(), now=now)
    counts["outcomes"] = _outcomes(leads=leads, rng=rng, now=now)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return counts


def _outcomes(*, leads: int, rng: random.Random, now: datetime) -> int:
    """5 % of leads were handed to sales: accepted (then won, lost or open) or rejected."""
    rows: list[dict[str, Any]] = []
    stages: dict[int, tuple[str, datetime]] = {}
    for lead in rng.sample(range(1, leads + 1), leads // 20):
        handed = now - timedelta(days=rng.randint(1, 120))
        path = ["mql", *rng.choice([["sal"], ["sal", "sql", "won"], ["sal", "sql", "lost"],
                                    ["disqualified"]])]  # fmt: skip
        previous, at = "nurturing", handed
        for stage in path:
            rows.append({"lead_id": lead, "from_stage": previous, "to_stage": stage,
                         "at": at.isoformat(), "score": 100, "cycle": 1, "reason": "",
                         "note": ""})  # fmt: skip
            previous, at = stage, at + timedelta(days=rng.randint(1, 10))
        stages[lead] = (previous, handed)
    copy_rows("handoff_stagetransition", rows, now=now)
    # Where each of them stands now: the lifecycle row (cycle 1, qualified when handed over).
    ids = sorted(stages)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE handoff_leadlifecycle AS l SET stage = v.stage, cycle = 1, mql_at = v.mql_at "
            "FROM unnest(%s::bigint[], %s::text[], %s::timestamptz[]) AS v(lead_id, stage, mql_at) "
            "WHERE l.lead_id = v.lead_id",
            [ids, [stages[i][0] for i in ids], [stages[i][1] for i in ids]],
        )
    return len(stages)
