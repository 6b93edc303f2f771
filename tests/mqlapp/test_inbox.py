"""Large batches go through the inbox: answered once one durable row holds them, stored as
events by the `ingest` queue, each message once, nothing valid lost (docs/ingestion.md)."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from mqlapp.leads.ingest import inbox
from mqlapp.leads.ingest.messages import message_parse
from mqlapp.leads.models import Event, InboxBatch, Lead
from mqlapp.leads.services import source_create
from scoring.models import LeadScore, ScoreQueue
from tests.conftest import basic, requires_postgres, requires_services, wait_for

BIG = 300  # at least INGEST_DEFER_MIN_MESSAGES (250 by default)


def _page(i: int, *, user: str = "u1", tag: str = "p") -> dict[str, Any]:
    return {
        "type": "page",
        "messageId": f"{tag}-{i}",
        "userId": user,
        "timestamp": (datetime(2026, 11, 1, tzinfo=UTC) + timedelta(minutes=i)).isoformat(),
        "properties": {"path": f"/docs/{i}", "title": "資料 🗂"},
        "context": {"page": {"url": f"https://www.example.co.jp/docs/{i}?utm_source=ad"}},
    }


def _identify(user: str, email: str) -> dict[str, Any]:
    return {"type": "identify", "messageId": f"id-{user}", "userId": user,
            "traits": {"email": email, "lastName": "佐藤"}}  # fmt: skip


@pytest.fixture
def deferring(settings: Any) -> Any:
    """Requests of BIG messages go through the inbox, as where a worker runs."""
    from mqlapp.celery import app

    settings.INGEST_DEFER_MIN_MESSAGES = 250
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    yield settings
    app.conf.task_always_eager = eager


STORED = ("message_id", "type", "lead_id", "user_id", "properties", "context", "campaign",
          "timestamp", "received_at", "source_id")  # fmt: skip


def _stored(**filters: Any) -> list[tuple[Any, ...]]:
    return list(Event.objects.filter(**filters).order_by("message_id").values_list(*STORED))


@pytest.mark.django_db
def test_a_large_batch_is_answered_from_one_row_and_its_events_are_stored_once_when_expanded(
    ingest: Any, source: Any, deferring: Any
) -> None:
    # given: a lead, and a batch of BIG page views with two invalid messages among them
    batch = [_identify("u1", "sato@example.co.jp"), *[_page(i) for i in range(BIG)]]
    batch[5] = {"type": "page", "messageId": "no-ids"}
    batch[9] = {"type": "nonsense", "userId": "u1"}

    # when
    response = ingest("/v1/batch", {"batch": batch})

    # then: answered with the rejected ones named; the valid ones wait in one row, no events yet
    assert response.status_code == 200
    assert response.json() == {
        "success": True,
        "rejected": [
            {"index": 5, "error": "message needs a userId or an anonymousId"},
            {"index": 9, "error": "unknown type 'nonsense'; expected one of identify, track, "
                                  "page, screen, group, alias"},
        ],
    }  # fmt: skip
    row = InboxBatch.objects.get()
    assert (row.count, row.source_id) == (BIG - 1, source.pk)
    assert Event.objects.count() == 0

    # when: the worker expands it (twice: a redelivered task finds nothing left)
    assert inbox.inbox_expand() == 1
    assert inbox.inbox_expand() == 0

    # then: every valid message is an event of the lead, once, and the row is gone
    lead = Lead.objects.get(email="sato@example.co.jp")
    assert InboxBatch.objects.count() == 0
    assert Event.objects.filter(type="page", lead=lead).count() == BIG - 2
    assert Event.objects.filter(type="identify", lead=lead).count() == 1
    assert lead.last_activity_at == datetime(2026, 11, 1, tzinfo=UTC) + timedelta(minutes=BIG - 1)

    # its leads are queued for scoring as a back-fill's, behind live traffic's (LeadQueue.bulk)
    assert set(ScoreQueue.objects.values_list("lead_id", "bulk")) == {(lead.pk, True)}

    # and the same batch sent again (an SDK retry) stores nothing more
    assert ingest("/v1/batch", {"batch": batch}).status_code == 200
    assert inbox.inbox_expand() == 1
    assert Event.objects.count() == BIG - 1


@requires_postgres
@pytest.mark.django_db
def test_expanded_events_equal_the_events_a_request_stores_itself(
    ingest: Any, source: Any, settings: Any, deferring: Any, monkeypatch: Any
) -> None:
    # given: the same messages, under two sets of ids
    pages = [_page(i, user="u2") for i in range(BIG)]
    settings.INGEST_DEFER_MIN_MESSAGES = 0  # stored before the answer
    ingest("/v1/batch", {"batch": [_identify("u2", "ito@example.co.jp"), *pages]})
    assert set(ScoreQueue.objects.values_list("bulk", flat=True)) == {False}  # live traffic
    settings.INGEST_DEFER_MIN_MESSAGES = 250
    again = [{**p, "messageId": "b" + p["messageId"]} for p in pages]
    ingest("/v1/batch", {"batch": again})
    accepted = InboxBatch.objects.get().received_at

    # when: expanded a day later by the clock
    later = accepted + timedelta(days=1)
    monkeypatch.setattr(timezone, "now", lambda: later)
    inbox.inbox_expand()

    # then: column for column the same rows (received_at: when the request came, not later)
    direct = _stored(message_id__startswith="p-")
    expanded = _stored(message_id__startswith="bp-")
    assert len(direct) == len(expanded) == BIG
    assert [r[1:8] for r in direct] == [r[1:8] for r in expanded]
    assert [r[9] for r in expanded] == [source.pk] * BIG
    # the events carry the request's own time, not the expansion's
    assert {r[8] for r in expanded} == {accepted}


@pytest.mark.django_db
def test_messages_survive_the_row_unchanged(db: Any) -> None:
    # given: messages with what JSON round trips could change (times to the microsecond,
    # offsets, no sentAt, nested non-ASCII, a number past 64 bits, an empty object)
    received = datetime(2026, 11, 30, 8, 1, 2, 345678, tzinfo=UTC)
    raws = [
        {**_page(1), "sentAt": "2026-11-30T17:01:00.123456+09:00", "timestamp":
         "2026-11-30T17:00:59.999999+09:00"},
        {"type": "track", "event": "資料ダウンロード", "anonymousId": "a-1",
         "properties": {"big": 2**70, "nested": {"ja": ["東京", None, True, 1.5]}, "": {}}},
        {"type": "alias", "previousId": "a-1", "userId": "u9"},
        {"type": "group", "groupId": "g-1", "userId": "u9", "traits": {"name": "株式会社テスト"}},
    ]  # fmt: skip
    messages = [message_parse(raw, index=i, received_at=received) for i, raw in enumerate(raws)]

    # when
    back = inbox.messages_unpack(inbox.messages_pack(messages))

    # then
    assert back == messages


@requires_postgres
@pytest.mark.django_db
def test_a_row_keeps_its_messages_lz4_compressed_and_gives_them_back(source: Any) -> None:
    """Migration leads.0006: a row lives until a worker expands it, so its blob is compressed
    with lz4 (its backend's CPU for 500 messages: 1.8 ms against 2.5 ms with PostgreSQL's
    default pglz), where the server has lz4."""
    from django.db import connection

    # given: a server built with lz4 (else the migration left the default, and so this test)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attcompression FROM pg_attribute WHERE attrelid = 'leads_inboxbatch'::regclass "
            "AND attname = 'messages'"
        )
        method = cursor.fetchone()[0]
        cursor.execute("SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' "
                       "AND 'lz4' = ANY(enumvals)")  # fmt: skip
        has_lz4 = cursor.fetchone() is not None
    assert method == ("l" if has_lz4 else "")
    now = timezone.now()
    messages = [message_parse(_page(i), index=i, received_at=now) for i in range(BIG)]

    # when: a row is put and read back from the table
    row = InboxBatch.objects.create(source=source, received_at=now, count=len(messages),
                                    messages=inbox.messages_pack(messages))  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_column_compression(messages), octet_length(messages), "
            "pg_column_size(messages) FROM leads_inboxbatch WHERE id = %s",
            [row.pk],
        )
        compression, length, size = cursor.fetchone()
    back = InboxBatch.objects.get(pk=row.pk)

    # then: compressed by lz4 where the server has it, and the same messages come back
    assert compression == ("lz4" if has_lz4 else "pglz")
    assert size < length
    assert inbox.messages_unpack(back.messages) == messages


@requires_postgres
@pytest.mark.django_db
def test_rows_waiting_when_the_column_became_text_are_expanded_as_they_were() -> None:
    """Migration leads.0009: the JSON is kept as text (stored and read without a hex
    encoding twice its size); a row written as bytea before it comes through unchanged, with
    its compression, and PostgreSQL checks it is UTF-8 as it converts it."""
    import importlib

    from django.db import connection

    migration = importlib.import_module("mqlapp.leads.migrations.0009_inbox_messages_as_text")
    now = timezone.now()
    messages = [message_parse(_page(i), index=i, received_at=now) for i in range(BIG)]
    packed = inbox.messages_pack(messages)
    assert isinstance(packed, str)

    # given: the column as it was (bytea), holding a row of the old kind
    with connection.schema_editor() as editor:
        migration.to_bytea(None, editor)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO leads_inboxbatch (received_at, count, messages, attempts, error) "
            "VALUES (%s, %s, %s, 0, '') RETURNING id",
            [now, len(messages), packed.encode()],
        )
        old_row = cursor.fetchone()[0]
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # as committed, before the migration

    # when: the migration runs
    with connection.schema_editor() as editor:
        migration.to_text(None, editor)

    # then: text again, the old row's messages come back whole
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = 'leads_inboxbatch'::regclass AND attname = 'messages'"
        )
        assert cursor.fetchone()[0] == "text"
    kept = InboxBatch.objects.get(pk=old_row).messages
    assert kept == packed
    assert inbox.messages_unpack(kept) == messages


@pytest.mark.django_db
def test_a_row_that_cannot_be_expanded_is_set_aside_and_the_rows_behind_it_go_on(
    source: Any,
) -> None:
    # given: a damaged row first, a good one behind it
    received = timezone.now()
    good = [message_parse(_page(i, tag="g"), index=i, received_at=received) for i in range(3)]
    bad = InboxBatch.objects.create(source=source, received_at=received, count=1, messages=b"{")
    inbox.inbox_put(good, source=source, received_at=received)

    # when
    before = timezone.now()
    assert inbox.inbox_expand() == 2

    # then: the good row is stored; the bad one is kept with its error, not tried again yet
    assert Event.objects.filter(message_id__startswith="g-").count() == 3
    bad.refresh_from_db()
    assert bad.attempts == 1
    assert bad.error.startswith("JSONDecodeError")
    assert bad.not_before is not None
    assert bad.not_before >= before + inbox.RETRY_FIRST
    assert inbox.inbox_expand() == 0
    assert inbox.inbox_waiting() == 1


@pytest.mark.django_db
def test_what_is_not_deferred(source: Any, settings: Any, deferring: Any) -> None:
    from mqlapp.celery import app

    browser = source_create(name="Tag", allowed_origins=["https://a.example"], kind="browser")
    assert inbox.inbox_deferred(count=250, source=source)
    # small requests, the SDKs' own batches, are stored before the answer
    assert not inbox.inbox_deferred(count=249, source=source)
    # a browser key's messages: its limits are applied while the request waits
    assert not inbox.inbox_deferred(count=2500, source=browser)
    settings.INGEST_DEFER_MIN_MESSAGES = 0
    assert not inbox.inbox_deferred(count=2500, source=source)
    # without a worker (eager mode) no one would expand the row
    settings.INGEST_DEFER_MIN_MESSAGES = 250
    app.conf.task_always_eager = True
    assert not inbox.inbox_deferred(count=2500, source=source)


@pytest.mark.django_db
def test_a_row_whose_kick_was_lost_is_expanded_by_the_sweep(source: Any) -> None:
    # given: a row committed without its task (the broker was down; a worker was killed)
    received = timezone.now()
    messages = [message_parse(_page(i, tag="s"), index=i, received_at=received) for i in range(5)]
    InboxBatch.objects.create(
        source=source, received_at=received, count=5, messages=inbox.messages_pack(messages)
    )

    # when / then
    assert inbox.inbox_sweep() == 1
    assert Event.objects.filter(message_id__startswith="s-").count() == 5
    assert inbox.inbox_sweep() == 0


@requires_services
@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_worker_stores_and_scores_a_large_batch_moments_after_the_answer(
    celery_worker_process: Any, source: Any, settings: Any
) -> None:
    from rest_framework.test import APIClient

    from scoring.services import rule_create

    # given: a page view is worth 1 point
    settings.INGEST_DEFER_MIN_MESSAGES = 250
    rule_create(data={"name": "Visit", "kind": "behavior", "event": "page", "points": 1})
    now = timezone.now()
    pages = [{**_page(i, user="u7", tag="w"), "timestamp": (now - timedelta(minutes=i)).isoformat()}
             for i in range(BIG)]  # fmt: skip

    # when: two large batches, the second a resend of the first
    for _ in range(2):
        response = APIClient().post(
            "/v1/batch", {"batch": [_identify("u7", "kato@example.co.jp"), *pages]},
            format="json", HTTP_AUTHORIZATION=basic(source.write_key),
        )  # fmt: skip
        assert response.status_code == 200, response.content

    # then: the worker stores each event once and scores the lead on all of them
    lead_score = wait_for(
        lambda: LeadScore.objects.filter(lead_id__in=Lead.objects.filter(
            email="kato@example.co.jp").values("pk"), score=BIG).first()
    )  # fmt: skip
    assert Event.objects.filter(lead_id=lead_score.lead_id, type="page").count() == BIG
    wait_for(lambda: InboxBatch.objects.count() == 0)


@pytest.mark.django_db
def test_a_run_out_of_time_leaves_the_rest_to_the_next_run(source: Any, deferring: Any) -> None:
    # given: two rows waiting
    received = timezone.now()
    for tag in ("t1", "t2"):
        messages = [
            message_parse(_page(i, tag=tag), index=i, received_at=received) for i in range(3)
        ]
        inbox.inbox_put(messages, source=source, received_at=received)

    # when: a run with no time left (it kicks a new run, which a worker would take), then one
    # with time
    assert inbox.inbox_expand(seconds=0) == 0
    assert inbox.inbox_waiting() == 2
    assert inbox.inbox_expand(rows=1, seconds=60) == 2

    # then
    assert Event.objects.filter(message_id__startswith="t").count() == 6


@pytest.mark.django_db
def test_an_erasure_first_stores_what_waits_in_the_inbox_and_erases_it_too(
    ingest: Any, source: Any
) -> None:
    from mqlapp.leads.privacy import lead_erase

    # given: a lead, and a large batch about her accepted but not yet stored
    email = "erase-me@example.co.jp"
    identify = {"userId": "u-erase", "traits": {"email": email, "lastName": "山田"}}
    assert ingest("/v1/identify", identify).status_code == 200
    lead = Lead.objects.get(email=email)
    received = timezone.now()
    raws = [{"type": "page", "userId": "u-erase", "messageId": f"er-{i}",
             "properties": {"path": "/pricing", "email": email}} for i in range(3)]  # fmt: skip
    messages = [message_parse(raw, index=i, received_at=received) for i, raw in enumerate(raws)]
    inbox.inbox_put(messages, source=source, received_at=received)

    # when
    lead_erase(lead.pk, by=None)

    # then: the batch was stored on her lead before the erasure, and erased with the rest;
    # nothing is left to make a new lead of her later
    assert inbox.inbox_waiting() == 0
    stored = Event.objects.filter(message_id__startswith="er-")
    assert list(stored.values_list("lead_id", flat=True)) == [lead.pk] * 3
    assert [(e.user_id, e.properties) for e in stored] == [("", {"path": "/pricing"})] * 3
    assert not Lead.objects.filter(email=email).exists()


@requires_services
@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_only_the_expansion_commits_without_waiting_for_its_wal(
    celery_worker_process: Any, source: Any, monkeypatch: Any
) -> None:
    """The rows an expansion deletes in its own transaction were made durable by the request,
    so that one transaction may commit without waiting for its WAL (a crash that loses it
    loses the deletion too, and the rows are expanded again); nothing else may. (The session
    worker is here so that the scoring it is kicked for is over before the table flush; the
    rows are put without the kick, so that only this test expands them.)"""
    from django.db import connection

    def setting() -> str:
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            return str(cursor.fetchone()[0])

    def put(tag: str) -> None:
        raws = [_identify("u5", "mori@example.co.jp"), *(_page(i, user="u5", tag=tag)
                                                         for i in range(BIG))]  # fmt: skip
        now = timezone.now()
        messages = [message_parse(raw, index=i, received_at=now) for i, raw in enumerate(raws)]
        InboxBatch.objects.create(source=source, received_at=now, count=len(messages),
                                  messages=inbox.messages_pack(messages))  # fmt: skip

    seen: list[str] = []
    real = inbox.events_ingest

    def spying(*args: Any, **kwargs: Any) -> Any:
        seen.append(setting())
        return real(*args, **kwargs)

    monkeypatch.setattr(inbox, "events_ingest", spying)

    # given: a large batch waiting, committed the usual way
    put("a")
    assert setting() == "on"

    # when
    assert inbox.inbox_expand() == 1

    # then: off while it stored the events, on again once its transaction ended
    assert seen == ["off"]
    assert setting() == "on"
    assert Event.objects.filter(lead__email="mori@example.co.jp").count() == BIG + 1

    # and inside a caller's transaction, whose commit is the caller's, it waits as usual
    put("b")
    with transaction.atomic():
        assert inbox.inbox_expand() == 1
        assert setting() == "on"
    assert seen == ["off", "on"]
