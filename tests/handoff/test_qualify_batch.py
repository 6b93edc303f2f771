"""A batch of leads is qualified in one transaction with a fixed number of queries, with the
results of qualifying them one by one in lead-id order, and exactly once under concurrency."""

import json
import threading
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from handoff.assignment import rep_update
from handoff.models import (
    Assignment,
    AssignmentCursor,
    LeadLifecycle,
    Qualification,
    StageTransition,
    WebhookAttempt,
    WebhookDelivery,
)
from handoff.qualify import leads_qualify, mql_qualify_many
from handoff.services import policy_get, policy_update
from handoff.webhooks import webhook_create
from mqlapp.leads.ingest.messages import message_parse
from mqlapp.leads.ingest.services import events_ingest
from tests.conftest import requires_postgres, wait_for
from tests.factories import lead_make, score_set

pytestmark = pytest.mark.django_db


def _event(source, email, name, *, at):
    raw = {
        "type": "track",
        "userId": email,
        "event": name,
        "messageId": str(uuid.uuid4()),
        "timestamp": at.isoformat(),
        "context": {"traits": {"email": email}},
    }
    events_ingest([message_parse(raw, index=0, received_at=timezone.now())], source=source)


@pytest.fixture
def mixed(make_user, source, receiver, private_hosts):
    """Reps with a territory, a weight, a cap and one away; a policy with a fit minimum and a
    fast-track event; leads of every kind, created in this order (so their ids are too)."""
    big_jp, heavy, capped, away = (make_user("sales") for _ in range(4))
    rep_update(big_jp.pk, data={"territories": [{"countries": ["JP"], "employees_min": 1000}]})
    rep_update(heavy.pk, data={"weight": 2})
    rep_update(capped.pk, data={"max_open_mqls": 2})
    rep_update(away.pk, data={"available": False})
    policy_update(
        data={"mql_threshold": 60, "min_fit": 10, "fast_track_events": ["Demo Requested"]}
    )
    webhook_create(data={"url": receiver.url, "events": ["lead.mql"]})
    webhook_create(data={"url": receiver.url + "/all"})
    now = timezone.now()
    recycled_at = now - timedelta(days=3)

    def lead(name, *, score, fit=20, events=(), **fields):
        email = f"{name}@example.co.jp"
        made = lead_make(email=email, company=f"{name} KK", **fields)
        for event, at in events:
            _event(source, email, event, at=at)
        score_set(made.pk, score=Decimal(score), fit=Decimal(fit))
        return made.pk

    ids = {
        "jp_big": lead("jp_big", score=80, country="JP", employees=5000),
        "low_fit": lead("low_fit", score=90, fit=5),
        "already_mql": lead("already_mql", score=95, stage="mql", owner=capped, cycle=1),
        "hand_raiser": lead("hand_raiser", score=10, events=[("Demo Requested", now)]),
        "below": lead("below", score=59, events=[("Document Downloaded", now)]),
        "us": lead("us", score=61, country="US", employees=5000),
        "old_activity": lead("old_activity", score=70, cycle=1),
        "new_activity": lead("new_activity", score=70, cycle=1),
        "old_hand": lead("old_hand", score=10, cycle=1),
        "old_hand_new_visit": lead("old_hand_new_visit", score=10, cycle=1),
        "new_hand": lead("new_hand", score=10, cycle=1),
        "jp_small": lead("jp_small", score=100, country="JP", employees=50),
        "jp_big_2": lead("jp_big_2", score=60, country="jp", employees=1000),
        "plain_1": lead("plain_1", score=75),
        "plain_2": lead("plain_2", score=75),
        "plain_3": lead("plain_3", score=75),
        "plain_4": lead("plain_4", score=75),
    }
    # Recycled before: only activity since the epoch counts (fast-track events too).
    _event(
        source, "old_activity@example.co.jp", "Document Downloaded", at=recycled_at - timedelta(1)
    )
    _event(
        source, "new_activity@example.co.jp", "Document Downloaded", at=recycled_at + timedelta(1)
    )
    _event(source, "old_hand@example.co.jp", "Demo Requested", at=recycled_at - timedelta(1))
    _event(
        source, "old_hand_new_visit@example.co.jp", "Demo Requested", at=recycled_at - timedelta(1)
    )
    _event(
        source, "old_hand_new_visit@example.co.jp", "Email Opened", at=recycled_at + timedelta(1)
    )
    _event(source, "new_hand@example.co.jp", "Demo Requested", at=recycled_at + timedelta(1))
    for name in ("old_activity", "new_activity", "old_hand", "old_hand_new_visit", "new_hand"):
        score_set(ids[name], score_epoch=recycled_at)
    return {
        "ids": ids,
        "reps": {"big_jp": big_jp, "heavy": heavy, "capped": capped, "away": away},
        "receiver": receiver,
        "now": now,
    }


def _snapshot(lead_ids, receiver, *, mails_before, requests_before):
    """Everything a qualification leaves behind, without row ids, message ids and send times."""
    lives = LeadLifecycle.objects.filter(lead_id__in=lead_ids).order_by("lead_id")
    cursor = AssignmentCursor.objects.get(pk=1)
    deliveries = WebhookDelivery.objects.order_by("id")
    return {
        "lifecycles": list(
            lives.values_list("lead_id", "stage", "owner_id", "cycle", "mql_at", "sla_due_at")
        ),
        "cursor": (cursor.state, cursor.last_user_id),
        "transitions": list(
            StageTransition.objects.order_by("id").values_list(
                "lead_id", "from_stage", "to_stage", "at", "by", "reason", "note", "score", "cycle"
            )
        ),
        "qualifications": list(
            Qualification.objects.order_by("id").values_list(
                "lead_id", "cycle", "at", "score", "reason", "owner_id", "merged_from"
            )
        ),
        "assignments": [
            (a.lead_id, a.cycle, a.user_id, a.at, a.why, a.by_id, a.notify, bool(a.notified_at))
            for a in Assignment.objects.order_by("id")
        ],
        "deliveries": [
            (d.webhook_id, d.event_type, d.payload, d.status, d.attempts) for d in deliveries
        ],
        "attempts": list(
            WebhookAttempt.objects.order_by("delivery_id").values_list("number", "status_code")
        ),
        "mails": [(m.subject, m.body, m.to) for m in mail.outbox[mails_before:]],
        "received": [r["body"] for r in receiver.requests[requests_before:]],
    }


def _qualified_then_undone(action, mixed, capture):
    """Run `action`, then what it left for after commit (emails, webhook sends), look at the
    result, and roll it all back: both ways start from the same rows."""
    lead_ids = list(mixed["ids"].values())
    mails_before, requests_before = len(mail.outbox), len(mixed["receiver"].requests)
    with transaction.atomic():
        with capture() as callbacks:
            moved = action(lead_ids)
        for callback in callbacks:
            callback()
        found = _snapshot(
            lead_ids,
            mixed["receiver"],
            mails_before=mails_before,
            requests_before=requests_before,
        )
        transaction.set_rollback(True)
    return moved, found


def test_a_batch_gives_what_one_by_one_in_lead_id_order_gives(
    mixed, django_capture_on_commit_callbacks
):
    now, ids, reps = mixed["now"], mixed["ids"], mixed["reps"]
    AssignmentCursor.objects.get_or_create(pk=1)

    def one_by_one(lead_ids):
        moved = []
        for pk in sorted(lead_ids):
            moved += leads_qualify([pk], now=now)
        return moved

    def batch(lead_ids):
        return leads_qualify(list(reversed(lead_ids)), now=now)

    single_moved, single = _qualified_then_undone(
        one_by_one, mixed, django_capture_on_commit_callbacks
    )
    batch_moved, batched = _qualified_then_undone(batch, mixed, django_capture_on_commit_callbacks)

    # then: the same leads moved, and every row, email and webhook body is the same
    assert batch_moved == single_moved
    for part in single:
        assert batched[part] == single[part], part
    # and the case is the one meant: each kind of lead did what the policy says
    moving = [
        "jp_big", "hand_raiser", "us", "new_activity", "new_hand", "jp_small", "jp_big_2",
        "plain_1", "plain_2", "plain_3", "plain_4",
    ]  # fmt: skip
    assert batch_moved == sorted(ids[name] for name in moving)
    owners = {pk: owner for pk, _, owner, _, _, _ in batched["lifecycles"]}
    assert owners[ids["jp_big"]] == owners[ids["jp_big_2"]] == reps["big_jp"].pk
    assert owners[ids["already_mql"]] == reps["capped"].pk
    capped_new = [pk for pk in batch_moved if owners[pk] == reps["capped"].pk]
    assert len(capped_new) == 1  # its cap is 2 and it held one already
    assert reps["away"].pk not in owners.values()
    heavy_count = sum(owners[pk] == reps["heavy"].pk for pk in batch_moved)
    assert heavy_count == len(batch_moved) - 2 - 1  # all but the territory's and the capped's
    reasons = {pk: reason for pk, _, _, _, reason, _, _ in batched["qualifications"]}
    hands = {ids["hand_raiser"], ids["new_hand"]}
    assert {reasons[pk] for pk in hands} == {"fast_track"}
    assert {reasons[pk] for pk in batch_moved if pk not in hands} == {"threshold"}
    cycles = {pk: cycle for pk, _, _, cycle, _, _ in batched["lifecycles"]}
    assert (cycles[ids["new_activity"]], cycles[ids["new_hand"]]) == (2, 2)
    assert len(batched["mails"]) == len(batch_moved)  # every rep's lead is a rep's email
    # two webhooks on lead.mql: one message to each per lead, every one delivered
    assert len(batched["deliveries"]) == 2 * len(batch_moved)
    assert {d[3] for d in batched["deliveries"]} == {"delivered"}
    bodies = [json.loads(b) for b in batched["received"]]
    assert sorted(b["data"]["id"] for b in bodies) == sorted(batch_moved * 2)
    assert {b["data"]["owner"]["id"] for b in bodies} == {
        reps["big_jp"].pk,
        reps["heavy"].pk,
        reps["capped"].pk,
    }


def _fresh_leads(n, prefix):
    ids = []
    for i in range(n):
        lead = lead_make(email=f"{prefix}{i}@example.co.jp", country="JP", employees=100 * i)
        score_set(lead.pk, score=Decimal(80), fit=Decimal(20))
        ids.append(lead.pk)
    return ids


def test_fifty_leads_take_the_queries_five_take(make_user, receiver, private_hosts):
    a, b = make_user("sales"), make_user("sales")
    rep_update(b.pk, data={"max_open_mqls": 30, "territories": [{"employees_min": 1000}]})
    policy_update(data={"mql_threshold": 60, "min_fit": 10})
    webhook_create(data={"url": receiver.url, "events": ["lead.mql"]})
    AssignmentCursor.objects.get_or_create(pk=1)
    five, fifty = _fresh_leads(5, "five"), _fresh_leads(50, "fifty")
    now = timezone.now()

    with CaptureQueriesContext(connection) as for_five:
        assert leads_qualify(five, now=now) == five
    with CaptureQueriesContext(connection) as for_fifty:
        assert leads_qualify(fifty, now=now) == fifty

    assert len(for_fifty) == len(for_five)
    assert len(for_fifty) <= 20  # reads, the cursor, one write per table
    assert Qualification.objects.count() == 55
    assert WebhookDelivery.objects.count() == 55
    assert set(Assignment.objects.values_list("user_id", flat=True)) == {a.pk, b.pk}


def _waiting(pid):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS(SELECT 1 FROM pg_locks WHERE pid = %s AND NOT granted)", [pid]
        )
        return bool(cursor.fetchone()[0])


@requires_postgres  # row locks, and pg_locks to see the second batch wait
@pytest.mark.django_db(transaction=True)
def test_overlapping_batches_qualify_each_lead_once_and_keep_the_rotation(make_user):
    a, b = make_user("sales"), make_user("sales")
    ids = _fresh_leads(9, "race")
    policy = policy_get()  # stored first: the batches must meet at the leads' rows
    first, second = ids[:6], ids[3:]
    pids: list[int] = []
    results: list[object] = []

    def other_worker() -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                pids.append(cursor.fetchone()[0])
            scores = dict.fromkeys(second, Decimal(80))
            reasons = dict.fromkeys(second, "threshold")
            results.append(
                mql_qualify_many(
                    second, scores=scores, reasons=reasons, now=timezone.now(), policy=policy
                )
            )
        except BaseException as exc:  # noqa: BLE001 (handed to the test below)
            results.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=other_worker)
    # given: the first batch has moved its leads and holds their rows, not yet committed
    with transaction.atomic():
        scores, reasons = dict.fromkeys(first, Decimal(80)), dict.fromkeys(first, "threshold")
        moved = mql_qualify_many(first, scores=scores, reasons=reasons, now=timezone.now())
        assert moved == first
        # when: an overlapping batch runs meanwhile, and waits for the shared leads' rows
        thread.start()
        wait_for(lambda: pids and _waiting(pids[0]), timeout=30, every=0.05)
    # (the first commits here)
    thread.join(30)

    # then: the second moved only the leads the first did not; each lead once, in cycle 1
    assert results == [ids[6:]]
    lives = LeadLifecycle.objects.filter(lead_id__in=ids).order_by("lead_id")
    assert [(life.stage, life.cycle) for life in lives] == [("mql", 1)] * 9
    assert sorted(Qualification.objects.values_list("lead_id", flat=True)) == ids
    assert (
        sorted(StageTransition.objects.filter(to_stage="mql").values_list("lead_id", flat=True))
        == ids
    )
    assert sorted(Assignment.objects.values_list("lead_id", flat=True)) == ids
    # the rotation went on where the first batch left it: a, b, a, b ... in lead-id order
    assert [life.owner_id for life in lives] == [a.pk, b.pk] * 4 + [a.pk]
