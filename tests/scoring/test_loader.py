"""Loading facts: PostgreSQL's filtered, projected query gives exactly the engine's facts."""

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from mqlapp.leads.models import Event, Lead
from scoring import engine
from scoring.services import events_load
from tests.scoring.engine.builders import cond, rule

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="compares the PostgreSQL path"),
]

NAMES = [
    "Document Downloaded",
    "  document downloaded\t",
    "DOCUMENT DOWNLOADED",
    "Document Downloaded\x1f",  # str.strip() removes the unit separator too
    "Straße Besuch",  # casefolds to "strasse besuch"
    "ﬁle download",  # the ligature casefolds to "file download"
    "資料ダウンロード",
    "Email Opened",
    "Webinar Attended",
]
PROPERTIES = [
    {"category": "pricing", "doc": {"lang": "ja", "pages": 12}},
    {"category": None, "doc": "not an object"},
    {"items": ["a", "b"], "doc": {"lang": None}},
    {"category": ["pricing", "docs"], "n": 250},
    {},
]


@pytest.fixture
def stored():
    now = timezone.now()
    leads = Lead.objects.bulk_create([Lead(email=f"load{i}@example.com") for i in range(3)])
    rows = []
    for i, lead in enumerate(leads):
        for k, name in enumerate(NAMES):
            rows.append(Event(message_id=str(uuid.uuid4()), lead=lead, type="track", name=name,
                              properties=PROPERTIES[(i + k) % len(PROPERTIES)],
                              context={"page": {"path": f"/p{k}"}, "locale": "ja-JP"},
                              timestamp=now - timedelta(days=k), received_at=now))  # fmt: skip
        pricing = {"path": "/pricing"}
        rows.append(Event(message_id=str(uuid.uuid4()), lead=lead, type="page", name="Home",
                          properties=pricing, timestamp=now, received_at=now))  # fmt: skip
        rows.append(Event(message_id=str(uuid.uuid4()), lead=lead, type="screen", name="",
                          timestamp=now, received_at=now))  # fmt: skip
        rows.append(Event(message_id=str(uuid.uuid4()), lead=lead, type="identify",
                          timestamp=now, received_at=now))  # fmt: skip
    Event.objects.bulk_create(rows)
    return [lead.pk for lead in leads]


RULE_SETS = {
    "one-name": [rule(event="document downloaded")],
    "casefold": [rule(event="STRASSE BESUCH"), rule(id=2, event="File Download")],
    "japanese": [rule(event="資料ダウンロード")],
    "page-and-screen": [rule(event="page"), rule(id=2, event="screen")],
    "paths": [
        rule(
            event="Document Downloaded",
            conditions=[
                cond("properties.category", "exists"),
                cond("properties.doc.lang", "eq", "ja"),
                cond("context.page.path", "startswith", "/p"),
            ],
        )
    ],
    "numeric-path": [
        rule(event="Email Opened", conditions=[cond("properties.items.0", "eq", "a")])
    ],
    "every-event": [rule("inactivity", after_event="Webinar Attended", inactive_days=3)],
    "fit-only": [rule("fit", conditions=[cond("country", "eq", "JP")])],
}


def _sorted(found):
    return {lead: sorted(events, key=lambda e: e.id) for lead, events in found.items() if events}


@pytest.fixture(params=[True, False], ids=["lower", "translate"])
def collation(request, monkeypatch):
    """Both SQL name filters: lower() where it maps A-Z, translate() where it may not."""
    from scoring.services import loader

    monkeypatch.setattr(loader, "_lower_is_ascii", lambda: request.param)


@pytest.mark.parametrize("name", list(RULE_SETS))
def test_postgres_loading_equals_loading_everything_and_projecting(stored, name, collation):
    plan = engine.needs(RULE_SETS[name])

    fast = events_load(stored, plan=plan, fast=True)
    slow = events_load(stored, plan=plan, fast=False)
    by_range = events_load(plan=plan, id_range=(min(stored), max(stored)), fast=True)

    assert _sorted(fast) == _sorted(slow)
    assert _sorted(by_range) == _sorted(slow)


def test_the_casefold_names_are_found(stored):
    plan = engine.needs(RULE_SETS["casefold"])

    found = events_load(stored, plan=plan, fast=True)

    assert sorted({e.name for events in found.values() for e in events}) == [
        "Straße Besuch",
        "ﬁle download",
    ]


def test_paths_are_projected_not_whole_objects(stored):
    plan = engine.needs(RULE_SETS["paths"])

    found = events_load(stored[:1], plan=plan, fast=True)[stored[0]]

    first = next(e for e in found if e.name == "Document Downloaded")
    assert first.properties == {"category": "pricing", "doc": {"lang": "ja"}}
    assert first.context == {"page": {"path": "/p0"}}
    assert len(found) == 4  # the four spellings of Document Downloaded


def test_no_events_are_loaded_when_rules_need_none(stored):
    assert events_load(stored, plan=engine.needs(RULE_SETS["fit-only"])) == {}


def test_a_range_of_leads_events_of_a_few_names_is_read_through_the_track_name_index():
    """The simulator's draft rules read one name among many over a range of leads: the filter
    is spelled as the `event_track_name_key` index holds it, so PostgreSQL reads those events
    from it instead of every event of the range (migration leads 0007)."""
    from django.test.utils import CaptureQueriesContext

    now = timezone.now()
    lead = Lead.objects.create(email="many-events@example.com")
    names = ["Email Opened"] * 3000 + ["Document Downloaded"] * 5
    rows = [
        Event(
            message_id=f"idx-{i}",
            lead=lead,
            type="track",
            name=name,
            timestamp=now - timedelta(minutes=i),
            received_at=now,
        )
        for i, name in enumerate(names)
    ]
    Event.objects.bulk_create(rows)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE leads_event")
    with CaptureQueriesContext(connection) as queries:
        found = events_load(
            plan=engine.needs(RULE_SETS["one-name"]), id_range=(lead.pk, lead.pk), fast=True
        )
    assert len(found[lead.pk]) == 5
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'event_track_name_key'::regclass"
        )
        partition_indexes = {name for (name,) in cursor.fetchall()}
        cursor.execute("EXPLAIN " + queries.captured_queries[-1]["sql"])
        plan = "\n".join(line for (line,) in cursor.fetchall())
    assert partition_indexes
    assert any(name in plan for name in partition_indexes), plan
