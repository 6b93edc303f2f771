"""Issue 9: the events table partitioned by month, messageId unique across partitions (the key
table), partition upkeep, retention by whole months (docs/partitioning.md)."""

import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.utils import timezone

from handoff.models import LeadView
from mqlapp.leads import event_partitions
from mqlapp.leads.event_partitions import (
    event_partitions_ensure,
    event_partitions_maintain,
    events_retention_apply,
    month_add,
    month_start,
    partition_name,
)
from mqlapp.leads.event_store import FIELDS, EventRow, events_insert
from mqlapp.leads.models import Event, EventKey
from mqlapp.leads.privacy import lead_erase
from mqlapp.leads.tasks import event_partitions_maintain as maintain_task
from scoring import engine
from scoring.models import LeadScore
from scoring.services import rule_create
from scoring.services.loader import events_load
from scoring.services.state import rules_live
from tests import pipeline
from tests.conftest import requires_postgres
from tests.factories import lead_make
from tests.holding import held_elsewhere

pytestmark = pytest.mark.django_db
OPENED = {"name": "Open", "kind": "behavior", "event": "Email Opened", "points": 5}


def _partition_of(message_id):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tableoid::regclass::text FROM leads_event WHERE message_id = %s", [message_id]
        )
        return [name for (name,) in cursor.fetchall()]


def _relation_exists(name):
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
        return cursor.fetchone()[0]


def _opened(email, when, *, message_id=None, sent_at=None):
    message = {
        "type": "track",
        "userId": email,
        "event": "Email Opened",
        "timestamp": when.isoformat(),
        "messageId": message_id or str(uuid.uuid4()),
    }
    if sent_at is not None:
        message["sentAt"] = sent_at.isoformat()
    return message


def _identify(email):
    return {"type": "identify", "userId": email, "traits": {"email": email},
            "messageId": str(uuid.uuid4())}  # fmt: skip


def _score(email):
    pipeline.leads_score_pending(limit=500)
    return LeadScore.objects.get(lead__email=email)


def _fact_ids(lead_id):
    _, rules = rules_live()
    events = events_load([lead_id], plan=engine.needs(rules))
    return sorted(e.id for e in events.get(lead_id, ()))


def _committed():
    """Retention runs long after the events were committed; in a test they were inserted in
    this very transaction, and PostgreSQL drops no table with checks still pending on it."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def _row(message_id, when, **extra):
    return EventRow(message_id=message_id, type="track", name="Email Opened", timestamp=when,
                    received_at=timezone.now(), **extra)  # fmt: skip


def test_insert_stores_each_message_id_once_and_counts_the_new_ones():
    # runs on any database: SQLite takes the ORM path, PostgreSQL the key table's statement
    now = timezone.now()
    first = [_row("a", now), _row("b", now), _row("a", now - timedelta(days=40))]
    assert events_insert(first) == 2
    assert events_insert([_row("b", now + timedelta(seconds=3)), _row("c", now)]) == 1
    assert sorted(Event.objects.values_list("message_id", flat=True)) == ["a", "b", "c"]
    # the first row given for a messageId is the one stored
    assert Event.objects.get(message_id="a").timestamp == now
    assert Event.objects.get(message_id="b").timestamp == now


def test_insert_keeps_every_column_as_given(source):
    lead = lead_make(email="columns@example.co.jp")
    tokyo = datetime(2025, 3, 31, 23, 59, 59, 123456, tzinfo=ZoneInfo("Asia/Tokyo"))
    row = EventRow(message_id="cols", type="track", timestamp=tokyo, received_at=tokyo,
                   sent_at=None, lead_id=lead.pk, source_id=source.pk, anonymous_id="anon-ä",
                   user_id="u-1", previous_id="p-1", name="資料ダウンロード",
                   properties={"category": "pricing", "n": 2**70, "deep": [{"x": None}]},
                   context={"ip": "203.0.113.7"}, traits={"plan": "pro"},
                   campaign={"source": "newsletter"})  # fmt: skip
    naive = EventRow(message_id="naive", type="page", timestamp=datetime(2025, 1, 1, 9),  # noqa: DTZ001 (the case)
                   received_at=tokyo, properties={"q": 1.5})  # fmt: skip

    assert events_insert([row, naive]) == 2

    stored = Event.objects.get(message_id="cols")
    assert {name: getattr(stored, name) for name in FIELDS} == dict(zip(FIELDS, row, strict=True))
    assert stored.properties["n"] == 2**70  # past orjson's 64 bits: the standard library wrote it
    # a naive time is UTC, as message parsing reads one
    assert Event.objects.get(message_id="naive").timestamp == datetime(2025, 1, 1, 9, tzinfo=UTC)


@requires_postgres
def test_the_events_table_is_partitioned_by_month_with_a_default_partition():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT p.partstrat, a.attname FROM pg_partitioned_table p "
            "JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0] "
            "WHERE p.partrelid = 'leads_event'::regclass"
        )
        assert cursor.fetchall() == [("r", "timestamp")]
        cursor.execute(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'leads_event'::regclass"
        )
        bounds = dict(cursor.fetchall())
        cursor.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = 'leads_event'::regclass AND contype = 'p'"
        )
        primary_key = cursor.fetchone()[0]
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'leads_eventkey' ORDER BY 1"
        )
        key_indexes = [row[0] for row in cursor.fetchall()]
    assert bounds["leads_event_default"] == "DEFAULT"
    month = month_start(timezone.now())
    for ahead in range(event_partitions.AHEAD + 1):
        name = partition_name(month_add(month, ahead))
        assert bounds[name].startswith("FOR VALUES FROM ('"), bounds
    assert primary_key == 'PRIMARY KEY (id, "timestamp")'
    assert key_indexes == [
        "CREATE UNIQUE INDEX leads_eventkey_pkey ON public.leads_eventkey USING btree (message_id)"
    ]


@requires_postgres
def test_events_years_back_or_ahead_are_stored_in_the_default_partition_and_scored(ingest):
    rule_create(data=OPENED)
    now = timezone.now()
    email = "kako@example.co.jp"
    old, future = (
        _opened(email, now - timedelta(days=3 * 365)),
        _opened(email, now + timedelta(days=365)),
    )
    assert ingest("/v1/batch", {"batch": [_identify(email), old, future]}).status_code == 200

    assert _partition_of(old["messageId"]) == ["leads_event_default"]
    assert _partition_of(future["messageId"]) == ["leads_event_default"]
    lead = LeadView.objects.get(email=email)
    assert _fact_ids(lead.pk) == sorted([old["messageId"], future["messageId"]])
    assert _score(email).score == Decimal("10.00")


@requires_postgres
def test_a_retry_with_another_timestamp_and_sent_at_is_stored_once(ingest):
    now = timezone.now()
    email = "retry@example.co.jp"
    ingest("/v1/identify", _identify(email))
    first = _opened(email, now - timedelta(days=1), message_id="retry-1", sent_at=now)
    # the SDK's second try: sentAt later, so the skew-corrected timestamp differs; and a third
    # whose timestamp falls in another month (another partition)
    second = {**first, "sentAt": (now + timedelta(seconds=7)).isoformat()}
    third = {**first, "timestamp": (now - timedelta(days=70)).isoformat()}
    for message in (first, second, third):
        assert ingest("/v1/track", message).status_code == 200
    assert ingest("/v1/batch", {"batch": [second, third]}).status_code == 200

    stored = Event.objects.get(message_id="retry-1")
    assert Event.objects.filter(message_id="retry-1").count() == 1
    assert list(
        EventKey.objects.filter(message_id="retry-1").values_list("timestamp", flat=True)
    ) == [stored.timestamp]
    assert LeadView.objects.get(email=email).events.filter(type="track").count() == 1


@requires_postgres
def test_an_erased_leads_message_retried_later_is_not_stored_again(ingest):
    email = "erase@example.co.jp"
    message = _opened(email, timezone.now(), message_id="before-erasure")
    message["properties"] = {"email": email}
    ingest("/v1/batch", {"batch": [_identify(email), message]})
    lead = LeadView.objects.get(email=email)
    lead_erase(lead.pk, by=None)

    assert ingest("/v1/track", message).status_code == 200

    assert Event.objects.filter(message_id="before-erasure").count() == 1
    assert Event.objects.get(message_id="before-erasure").properties == {}
    assert EventKey.objects.filter(message_id="before-erasure").exists()


@requires_postgres
def test_maintenance_is_idempotent_and_moves_strays_out_of_the_default_partition():
    later = month_add(month_start(timezone.now()), 7)
    stray = _row("stray", later + timedelta(days=3, hours=5))
    assert events_insert([stray]) == 1
    assert _partition_of("stray") == ["leads_event_default"]

    created = event_partitions_maintain(now=later + timedelta(days=10))
    again = event_partitions_maintain(now=later + timedelta(days=10))

    assert created == [partition_name(month_add(later, k)) for k in range(3)]
    assert again == []
    assert _partition_of("stray") == [partition_name(later)]
    moved = Event.objects.get(message_id="stray")
    assert (moved.timestamp, moved.name) == (stray.timestamp, "Email Opened")
    assert EventKey.objects.filter(message_id="stray").count() == 1


@requires_postgres
def test_the_beat_task_creates_nothing_twice():
    first = maintain_task()
    assert maintain_task() == {"created": [], "dropped": []}
    assert first["dropped"] == []
    month = month_start(timezone.now())
    names = set(event_partitions.event_partitions())
    assert {partition_name(month_add(month, k)) for k in range(3)} <= names


@requires_postgres
def test_retention_drops_old_months_and_their_keys_and_keeps_newer_events(ingest):
    rule_create(data=OPENED)
    now = timezone.now()
    month = month_start(now)
    event_partitions_ensure(month_add(month, -10), month)
    email, gone_email = "keep@example.co.jp", "gone@example.co.jp"
    old = [_opened(email, now - timedelta(days=270)), _opened(email, now - timedelta(days=4 * 365))]
    new = [_opened(email, month_add(month, -2) + timedelta(days=3)), _opened(email, now)]
    only_old = _opened(gone_email, month_add(month, -9) + timedelta(days=1))
    batch = [_identify(email), _identify(gone_email), *old, *new, only_old]
    assert ingest("/v1/batch", {"batch": batch}).status_code == 200
    lead = LeadView.objects.get(email=email)
    assert _score(email).score == Decimal("20.00")
    old_month = month_start(now - timedelta(days=270))

    _committed()
    done = events_retention_apply(months=6, now=now)

    assert done.cutoff == month_add(month, -6)
    assert partition_name(old_month) in done.partitions
    assert partition_name(month_add(month, -9)) in done.partitions
    assert not _relation_exists(partition_name(old_month))
    kept = set(event_partitions.event_partitions())
    assert {partition_name(month_add(month, k)) for k in range(-5, 1)} <= kept
    assert not any(m < done.cutoff for m in event_partitions.event_partitions().values())
    old_ids = [m["messageId"] for m in (*old, only_old)]
    new_ids = sorted(m["messageId"] for m in new)
    assert not Event.objects.filter(message_id__in=old_ids).exists()
    assert not EventKey.objects.filter(message_id__in=old_ids).exists()
    assert (
        sorted(EventKey.objects.filter(message_id__in=new_ids).values_list("message_id", flat=True))
        == new_ids
    )
    assert sorted(lead.events.filter(type="track").values_list("message_id", flat=True)) == new_ids
    assert (done.events, done.keys, done.lead_ids) == (
        3,
        3,
        {lead.pk, LeadView.objects.get(email=gone_email).pk},
    )
    # the leads are queued for scoring: the score follows the events that are left
    assert _fact_ids(lead.pk) == new_ids
    assert _score(email).score == Decimal("10.00")
    assert _score(gone_email).score == Decimal("0.00")


@requires_postgres
def test_retention_command_says_what_it_dropped(settings, capsys):
    month = month_start(timezone.now())
    event_partitions_ensure(month_add(month, -30), month_add(month, -29))
    events_insert([_row("ancient", month_add(month, -30) + timedelta(hours=1))])

    _committed()
    call_command("events_retention", months=24)

    out = capsys.readouterr().out
    assert partition_name(month_add(month, -30)) in out
    assert partition_name(month_add(month, -29)) in out
    assert "1 event(s), 1 key(s)" in out
    assert not Event.objects.filter(message_id="ancient").exists()
    settings.EVENT_RETENTION_MONTHS = None
    with pytest.raises(CommandError, match="kept forever"):
        call_command("events_retention")


@requires_postgres
def test_the_beat_task_applies_the_retention_setting(settings):
    month = month_start(timezone.now())
    event_partitions_ensure(month_add(month, -14), month_add(month, -14))
    settings.EVENT_RETENTION_MONTHS = 12

    done = maintain_task()

    assert done["dropped"] == [partition_name(month_add(month, -14))]


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_a_month_that_grew_much_since_it_was_sampled_is_sampled_again_at_once(monkeypatch):
    """After a back-fill the planner must not read a month as if it were still small:
    event_partitions_analyze samples (ANALYZE) the partitions that changed by more than a
    share since they were last sampled, and leaves the others alone."""
    monkeypatch.setattr(event_partitions, "ANALYZE_LEAST", 50)
    now = timezone.now()
    month = partition_name(month_start(now))
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {month}")
    event_partitions.event_partitions_analyze()  # whatever earlier tests left
    assert month not in event_partitions.event_partitions_analyze()  # nothing changed since

    # 60 moments a microsecond apart (within the month: it cannot end in the next 60 µs
    # after `now` and the month's start)
    start = max(now - timedelta(microseconds=60), month_start(now))
    events_insert([_row(f"grew-{i}", start + timedelta(microseconds=i)) for i in range(60)])
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")  # this backend's counts, now
    with transaction.atomic():  # a caller's transaction: not there, its timeout would stay
        assert event_partitions.event_partitions_analyze() == []
    assert month in event_partitions.event_partitions_analyze()
    assert month not in event_partitions.event_partitions_analyze()  # sampled: done
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = %s", [month])
        assert cursor.fetchone()[0] >= 60
        # The small sample (ANALYZE_STATISTICS): its histogram of 60 distinct moments has
        # that many buckets, where PostgreSQL's default (100) would keep all 60 values.
        cursor.execute(
            "SELECT cardinality(histogram_bounds::text::text[]) FROM pg_stats "
            "WHERE tablename = %s AND attname = 'timestamp'",
            [month],
        )
        assert cursor.fetchone()[0] == event_partitions.ANALYZE_STATISTICS + 1


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_sampling_a_month_someone_holds_is_skipped_not_waited_for(monkeypatch):
    """A VACUUM or a partition change holding the month must not stall a back-fill: the
    sampling gives up after its lock timeout and a later call does it."""
    monkeypatch.setattr(event_partitions, "ANALYZE_LEAST", 50)
    now = timezone.now()
    month = partition_name(month_start(now))
    event_partitions.event_partitions_analyze()  # whatever earlier tests left
    events_insert([_row(f"held-{i}", now) for i in range(60)])
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")

    def vacuum_like() -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {month} IN SHARE UPDATE EXCLUSIVE MODE")

    with held_elsewhere(vacuum_like):
        assert event_partitions.event_partitions_analyze() == []  # skipped, no error
    assert month in event_partitions.event_partitions_analyze()  # the next call does it


@pytest.fixture
def made_partitions():
    """The partitions a committing test (transaction=True) names here are dropped after it:
    the flush between tests empties tables and drops none."""
    names: list[str] = []
    yield names
    with connection.cursor() as cursor:
        for name in names:
            cursor.execute(f"DROP TABLE IF EXISTS {name}")


# --- a back-fill of past months: out of DEFAULT into partitions of their own -----------------


def _months_back(months):
    return month_add(month_start(timezone.now()), -months)


@requires_postgres
def test_a_back_filled_past_month_moves_out_of_the_default_partition_whole(monkeypatch):
    """Events of a month before the install (a back-fill of history) land in DEFAULT; the
    hourly job gives a month with DRAIN_LEAST of them a partition of its own, every row and
    key as it was, and the month's later events go there directly. A month's few stragglers
    and months older than BEHIND stay in DEFAULT."""
    monkeypatch.setattr(event_partitions, "DRAIN_LEAST", 5)
    past, sparse = _months_back(5), _months_back(8)
    ancient = _months_back(event_partitions.BEHIND + 3)
    rows = [_row(f"past-{i}", past + timedelta(days=i, hours=3), properties={"i": i})
            for i in range(6)]  # fmt: skip
    rows += [_row(f"sparse-{i}", sparse + timedelta(days=2)) for i in range(4)]
    rows += [_row(f"ancient-{i}", ancient + timedelta(days=1)) for i in range(6)]
    assert events_insert(rows) == 16
    assert {p for r in rows for p in _partition_of(r.message_id)} == {"leads_event_default"}

    created = event_partitions_maintain()

    assert created == [partition_name(past)]
    for row in rows[:6]:
        assert _partition_of(row.message_id) == [partition_name(past)]
        stored = Event.objects.get(message_id=row.message_id)
        assert (stored.timestamp, stored.properties, stored.name) == (
            row.timestamp, row.properties, "Email Opened"
        )  # fmt: skip
    for row in rows[6:]:
        assert _partition_of(row.message_id) == ["leads_event_default"]
    assert EventKey.objects.filter(message_id__startswith="past-").count() == 6
    events_insert([_row("past-later", past + timedelta(days=20))])
    assert _partition_of("past-later") == [partition_name(past)]
    assert event_partitions_maintain() == []


@requires_postgres
def test_a_month_too_large_to_move_now_is_reported_and_the_command_moves_it(monkeypatch, capsys):
    monkeypatch.setattr(event_partitions, "DRAIN_LEAST", 2)
    monkeypatch.setattr(event_partitions, "DRAIN_MOST", 3)
    past = _months_back(4)
    events_insert([_row(f"large-{i}", past + timedelta(hours=i)) for i in range(4)])

    call_command("events_partitions")
    assert f"left in DEFAULT: 4 events of {partition_name(past)}" in capsys.readouterr().out
    assert _partition_of("large-0") == ["leads_event_default"]

    call_command("events_partitions", drain=True)
    assert f"created {partition_name(past)}" in capsys.readouterr().out
    assert {p for i in range(4) for p in _partition_of(f"large-{i}")} == {partition_name(past)}
    call_command("events_partitions")
    assert "nothing to do" in capsys.readouterr().out


@requires_postgres
def test_months_past_the_retention_setting_are_not_given_partitions(monkeypatch, settings):
    monkeypatch.setattr(event_partitions, "DRAIN_LEAST", 2)
    settings.EVENT_RETENTION_MONTHS = 3
    kept, dropped_soon = _months_back(2), _months_back(6)
    events_insert([_row(f"kept-{i}", kept + timedelta(days=1)) for i in range(3)])
    events_insert([_row(f"soon-{i}", dropped_soon + timedelta(days=1)) for i in range(3)])

    assert event_partitions.event_partitions_drain().created == [partition_name(kept)]
    assert _partition_of("soon-0") == ["leads_event_default"]


@requires_postgres
def test_a_drain_that_must_not_wait_skips_while_another_partition_change_runs(monkeypatch):
    monkeypatch.setattr(event_partitions, "DRAIN_LEAST", 2)
    past = _months_back(3)
    events_insert([_row(f"busy-{i}", past + timedelta(days=1)) for i in range(3)])

    def partition_change() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [event_partitions._LOCK])

    with held_elsewhere(partition_change):
        assert event_partitions.event_partitions_drain(wait=False).created == []
    assert _partition_of("busy-0") == ["leads_event_default"]
    assert event_partitions.event_partitions_drain(wait=False).created == [partition_name(past)]


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_a_back_fill_expanded_from_the_inbox_gets_its_past_month_partition(
    monkeypatch, made_partitions
):
    """The inbox's expansion samples what it grew (event_partitions_analyze): when that is
    DEFAULT, the past months it holds move out first, and their new partition is sampled."""
    monkeypatch.setattr(event_partitions, "ANALYZE_LEAST", 20)
    monkeypatch.setattr(event_partitions, "DRAIN_LEAST", 10)
    monkeypatch.setattr(event_partitions, "_drain_after", 0.0)
    past = _months_back(7)
    name = partition_name(past)
    made_partitions.append(name)
    event_partitions.event_partitions_analyze()  # whatever earlier tests left
    events_insert([_row(f"fill-{i}", past + timedelta(hours=i)) for i in range(30)])
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")

    sampled = event_partitions.event_partitions_analyze()

    assert name in sampled
    assert {p for i in range(30) for p in _partition_of(f"fill-{i}")} == {name}
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = %s", [name])
        assert cursor.fetchone()[0] == 30


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_a_month_that_grew_a_little_since_it_was_sampled_is_not_sampled_again(monkeypatch):
    """Sampled after it grew to 60 rows, a month that gains 10 more has not doubled: it is
    left for autovacuum, however many rows PostgreSQL counts as changed since its last full
    sample (a sample of some columns does not reset that count)."""
    monkeypatch.setattr(event_partitions, "ANALYZE_LEAST", 50)
    now = timezone.now()
    month = partition_name(month_start(now))
    event_partitions.event_partitions_analyze()  # whatever earlier tests left
    start = max(now - timedelta(microseconds=80), month_start(now))

    def grow(first: int, count: int) -> list[str]:
        events_insert([_row(f"little-{i}", start + timedelta(microseconds=i))
                       for i in range(first, first + count)])  # fmt: skip
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_stat_force_next_flush()")
        return event_partitions.event_partitions_analyze()

    assert month in grow(0, 60)
    assert month not in grow(60, 10)
    assert month in grow(70, 75)  # 145 rows against the 60 sampled: more than doubled


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_a_drain_waits_for_a_back_fill_writing_the_month_and_moves_its_rows_too(
    monkeypatch, made_partitions
):
    """Another transaction writing the month into DEFAULT (a back-fill going on) and
    committing while the drain waits: the drain takes the table's lock before it looks for
    the month's rows, so it moves that transaction's rows too (had it looked first, the
    committed row left in DEFAULT would make PostgreSQL refuse the new partition)."""
    monkeypatch.setattr(event_partitions, "DRAIN_LEAST", 2)
    past = _months_back(9)
    name = partition_name(past)
    made_partitions.append(name)
    writing, done = threading.Event(), threading.Event()

    def back_fill() -> None:
        try:
            with transaction.atomic():
                events_insert([_row("race-late", past + timedelta(days=2))])
                writing.set()
                time.sleep(0.5)  # the drain starts meanwhile and waits for this commit
        finally:
            writing.set()
            connection.close()
            done.set()

    events_insert([_row(f"race-{i}", past + timedelta(days=1)) for i in range(3)])
    writer = threading.Thread(target=back_fill)
    writer.start()
    assert writing.wait(10)
    drained = event_partitions.event_partitions_drain(lock_timeout="10s")
    writer.join(10)
    assert done.is_set()

    assert drained.created == [name]
    assert {p for i in range(3) for p in _partition_of(f"race-{i}")} == {name}
    assert _partition_of("race-late") == [name]


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_a_drain_that_cannot_have_the_table_in_time_gives_up_without_an_error(
    monkeypatch, made_partitions
):
    monkeypatch.setattr(event_partitions, "DRAIN_LEAST", 2)
    past = _months_back(10)
    name = partition_name(past)
    made_partitions.append(name)
    events_insert([_row(f"slow-{i}", past + timedelta(days=1)) for i in range(3)])

    def back_fill() -> None:
        events_insert([_row("slow-late", past + timedelta(days=2))])

    with held_elsewhere(back_fill):
        assert event_partitions.event_partitions_drain(lock_timeout="200ms").created == []
    assert event_partitions.event_partitions_drain().created == [name]
