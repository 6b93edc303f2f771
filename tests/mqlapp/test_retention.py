"""Retention by days (mqlapp/leads/retention.py) on the real, partitioned events table: events
older than N days go (whole months dropped, the boundary month row by row, old strays in the
DEFAULT partition too) with their message keys; visitors never identified and not seen for N
days lose all their events; the hourly beat job applies the settings."""

from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection

from mqlapp.leads import event_partitions
from mqlapp.leads.event_partitions import event_partitions_ensure, month_add, partition_name
from mqlapp.leads.event_store import EventRow, events_insert
from mqlapp.leads.models import Event, EventKey, Identity
from mqlapp.leads.retention import events_retention_days_apply, visitors_retention_apply
from mqlapp.leads.tasks import BEAT, retention_apply
from scoring.models import ScoreQueue
from tests.conftest import requires_postgres
from tests.factories import lead_make

pytestmark = [pytest.mark.django_db, requires_postgres]

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
AUG, SEP, OCT, NOV = (datetime(2026, m, 1, tzinfo=UTC) for m in (8, 9, 10, 11))


def _committed():
    """PostgreSQL drops no table with checks still pending on it (rows inserted in this very
    transaction); retention runs long after the events were committed."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def _event(message_id, when, **extra):
    return EventRow(message_id=message_id, type="page", name="", timestamp=when,
                    received_at=when, **extra)  # fmt: skip


def _where(message_id):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tableoid::regclass::text FROM leads_event WHERE message_id = %s", [message_id]
        )
        return cursor.fetchone()[0]


def _ids():
    return sorted(Event.objects.values_list("message_id", flat=True))


def _keys():
    return sorted(EventKey.objects.values_list("message_id", flat=True))


def test_events_older_than_n_days_go_whole_months_dropped_and_the_boundary_row_by_row():
    event_partitions_ensure(AUG, month_add(NOV, 1))
    lead = lead_make(email="days@example.co.jp")
    other = lead_make(email="recent@example.co.jp")
    rows = {
        "aug": _event("aug", AUG + timedelta(days=14), lead_id=lead.pk),
        "sep": _event("sep", datetime(2026, 9, 30, 23, tzinfo=UTC), anonymous_id="v-1"),
        "oct-before": _event("oct-before", datetime(2026, 10, 5, tzinfo=UTC), lead_id=lead.pk),
        "oct-just-before": _event("oct-just-before", NOW - timedelta(days=30, seconds=1)),
        "oct-after": _event("oct-after", NOW - timedelta(days=29, hours=23), lead_id=lead.pk),
        "nov": _event("nov", NOW - timedelta(days=1), lead_id=other.pk),
        "ancient": _event("ancient", datetime(2019, 1, 1, tzinfo=UTC), anonymous_id="v-2"),
    }
    assert events_insert(list(rows.values())) == len(rows)
    assert _where("ancient") == "leads_event_default"
    assert _where("oct-before") == partition_name(OCT)
    ScoreQueue.objects.all().delete()
    _committed()

    done = events_retention_days_apply(days=30, now=NOW)

    assert done.cutoff == NOW - timedelta(days=30)
    # August and September end before the cutoff: dropped whole, tables and all
    assert done.partitions == [partition_name(AUG), partition_name(SEP)]
    names = set(event_partitions.event_partitions())
    assert partition_name(AUG) not in names
    assert partition_name(SEP) not in names
    assert {partition_name(OCT), partition_name(NOV)} <= names
    # October (the cutoff's month) lost only its rows before the cutoff; the DEFAULT one too
    assert _ids() == ["nov", "oct-after"]
    assert _keys() == ["nov", "oct-after"]
    assert (done.events, done.keys) == (5, 5)
    # the lead that lost events is queued for scoring; the other one is not
    assert done.lead_ids == {lead.pk}
    assert set(ScoreQueue.objects.values_list("lead_id", flat=True)) == {lead.pk}

    # idempotent: a second run finds nothing
    again = events_retention_days_apply(days=30, now=NOW)
    assert (again.partitions, again.events, again.keys) == ([], 0, 0)
    assert _ids() == ["nov", "oct-after"]


def test_visitors_never_identified_and_not_seen_for_n_days_lose_their_events():
    event_partitions_ensure(AUG, month_add(NOV, 1))
    old, recent = NOW - timedelta(days=45), NOW - timedelta(days=2)
    lead = lead_make(email="known@example.co.jp")
    Identity.objects.create(kind="anonymous", value="anon-linked", lead=lead)
    assert events_insert([
        # a visitor gone quiet: every event of it goes
        _event("gone-1", old, anonymous_id="anon-gone"),
        _event("gone-2", NOW - timedelta(days=31), anonymous_id="anon-gone", user_id="u-x"),
        # a visitor seen again since: its old history stays (it counts once identified)
        _event("back-1", old, anonymous_id="anon-back"),
        _event("back-2", recent, anonymous_id="anon-back"),
        # an id a lead is known by, its event not attached yet: not a stranger
        _event("linked", old, anonymous_id="anon-linked"),
        # server-side messages with only a userId: a stranger's go, a lead's email stays
        _event("user-gone", old, user_id="someone-else"),
        _event("user-known", old, user_id="Known@Example.co.jp"),
        # a lead's own old event is no visitor's
        _event("lead-old", old, lead_id=lead.pk, anonymous_id="anon-gone"),
    ]) == 8  # fmt: skip
    _committed()

    done = visitors_retention_apply(days=30, now=NOW)

    assert _ids() == ["back-1", "back-2", "lead-old", "linked", "user-known"]
    assert _keys() == _ids()
    assert (done.visitors, done.removed.events, done.removed.keys) == (2, 3, 3)
    assert (done.kept_active, done.kept_identified) == (1, 2)
    assert event_partitions.event_partitions()  # rows deleted, no partition touched
    assert visitors_retention_apply(days=30, now=NOW).visitors == 0


def test_the_hourly_beat_job_applies_the_settings(settings):
    assert BEAT["retention"]["task"] == "mqlapp.leads.tasks.retention_apply"
    assert BEAT["retention"]["schedule"] == timedelta(hours=1)
    event_partitions_ensure(AUG, month_add(NOV, 1))
    now = datetime.now(tz=UTC)
    assert events_insert([
        _event("stranger", now - timedelta(days=20), anonymous_id="anon-s"),
        _event("old", now - timedelta(days=400)),
        _event("fresh", now - timedelta(hours=1), anonymous_id="anon-f"),
    ]) == 3  # fmt: skip
    _committed()
    settings.EVENT_RETENTION_DAYS = None
    settings.VISITOR_RETENTION_DAYS = None
    assert retention_apply() == {"events": None, "visitors": None, "visitor_events": None}
    assert _ids() == ["fresh", "old", "stranger"]

    settings.EVENT_RETENTION_DAYS = 365
    settings.VISITOR_RETENTION_DAYS = 14

    assert retention_apply() == {"events": 1, "visitors": 1, "visitor_events": 1}
    assert _ids() == ["fresh"]


def test_the_command_takes_days_and_visitor_days(capsys, settings):
    event_partitions_ensure(AUG, month_add(NOV, 1))
    now = datetime.now(tz=UTC)
    events_insert([_event("old", now - timedelta(days=90)), _event("new", now)])
    _committed()

    call_command("events_retention", days=60, visitor_days=30)

    out = capsys.readouterr().out
    assert "1 event(s), 1 key(s)" in out
    assert "visitors never identified" in out
    assert _ids() == ["new"]
    settings.EVENT_RETENTION_MONTHS = None
    settings.EVENT_RETENTION_DAYS = None
    settings.VISITOR_RETENTION_DAYS = None
    with pytest.raises(CommandError, match="kept forever"):
        call_command("events_retention")
    with pytest.raises(CommandError, match="1 or more"):
        call_command("events_retention", days=0)


def test_days_must_be_one_or_more():
    for days in (0, -1, True):
        with pytest.raises(ValueError, match="1 or more"):
            events_retention_days_apply(days=days)
        with pytest.raises(ValueError, match="1 or more"):
            visitors_retention_apply(days=days)


def test_the_settings_default_to_keeping_everything():
    assert settings.EVENT_RETENTION_DAYS is None
    assert settings.VISITOR_RETENTION_DAYS is None
