"""kill -9 of the worker storing large batches (issue 9): nothing accepted is lost, nothing is
stored or scored twice, and a worker that starts picks the work up without beat (its
`worker_ready` catch-up, mqlapp/celery.py)."""

import os
import signal
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from mqlapp.celery import app
from mqlapp.leads.ingest.inbox import messages_pack
from mqlapp.leads.ingest.messages import message_parse
from mqlapp.leads.models import Event, InboxBatch, Lead
from scoring.models import LeadScore, ScoreQueue
from scoring.services import rule_create
from tests.conftest import basic, consumers, requires_services, wait_for

pytestmark = [
    requires_services,
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
]
LEADS, PER_REQUEST, REQUESTS = 40, 400, 12


def _requests() -> list[list[dict[str, Any]]]:
    now = timezone.now()
    messages = [
        {"type": "track", "event": "Document Downloaded", "messageId": f"k-{n}",
         "userId": f"killed-{n % LEADS}@example.co.jp",
         "context": {"traits": {"email": f"killed-{n % LEADS}@example.co.jp"}},
         "timestamp": now.isoformat()}
        for n in range(PER_REQUEST * REQUESTS)
    ]  # fmt: skip
    return [messages[i : i + PER_REQUEST] for i in range(0, len(messages), PER_REQUEST)]


def _kill9(pid: int) -> None:
    """SIGKILL a worker and its pool processes at once, as an OOM killer or a lost host does."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    pids = [int(p) for p in children.read_text().split()] if children.exists() else []
    for target in [pid, *pids]:
        try:
            os.kill(target, signal.SIGKILL)
        except ProcessLookupError:
            continue


def test_a_worker_killed_while_storing_large_batches_loses_and_repeats_nothing(
    start_workers: Any, source: Any, settings: Any
) -> None:
    # given: a download is worth 1 point; one worker on every queue
    settings.INGEST_DEFER_MIN_MESSAGES = 250
    rule_create(data={"name": "DL", "kind": "behavior", "event": "Document Downloaded",
                      "points": 1})  # fmt: skip
    queues = ["ingest", "scoring", "handoff", "webhooks"]
    (first,) = start_workers((f"doomed-{os.getpid()}@host-a", queues, 2))

    # when: large batches arrive (each resent once, as an SDK retrying a timeout does), and
    # the worker is killed -9 once it has begun storing them
    client = APIClient()
    people = [f"killed-{i}@example.co.jp" for i in range(LEADS)]
    identifies = [{"type": "identify", "userId": p, "traits": {"email": p}} for p in people]
    assert client.post("/v1/batch", {"batch": identifies}, format="json",
                       HTTP_AUTHORIZATION=basic(source.write_key)).status_code == 200  # fmt: skip
    consumers("cancel", [first.nodename], ["ingest"])
    for batch in _requests():
        for _ in range(2):
            response = client.post("/v1/batch", {"batch": batch}, format="json",
                                   HTTP_AUTHORIZATION=basic(source.write_key))  # fmt: skip
            assert response.status_code == 200, response.content
    assert InboxBatch.objects.count() == REQUESTS * 2
    consumers("add", [first.nodename], ["ingest"])
    wait_for(lambda: Event.objects.filter(type="track").exists(), timeout=60, every=0.01)
    _kill9(first.proc.pid)
    first.proc.wait()
    left = InboxBatch.objects.count()
    app.control.purge()  # and the kicks it had not taken are gone with it

    # then: a new worker, with no beat, stores the rest and scores every lead on all of it
    start_workers((f"heir-{os.getpid()}@host-b", queues, 2))
    wait_for(lambda: not InboxBatch.objects.exists(), timeout=120)
    wait_for(lambda: not ScoreQueue.objects.exists(), timeout=120)
    assert left > 0  # the kill did leave work behind
    assert Event.objects.filter(type="track").count() == PER_REQUEST * REQUESTS
    assert Lead.objects.count() == LEADS
    scores = sorted(LeadScore.objects.values_list("score", flat=True))
    assert scores == [PER_REQUEST * REQUESTS // LEADS] * LEADS


def test_a_worker_that_starts_expands_what_was_left_without_beat(
    start_workers: Any, source: Any
) -> None:
    # given: an accepted large batch whose kick was lost (no worker, the broker emptied)
    received = timezone.now()
    raws = [
        {
            "type": "identify",
            "userId": "left@example.co.jp",
            "traits": {"email": "left@example.co.jp"},
        }
    ]
    raws += [{"type": "page", "messageId": f"left-{i}", "userId": "left@example.co.jp"}
             for i in range(30)]  # fmt: skip
    messages = [message_parse(raw, index=i, received_at=received) for i, raw in enumerate(raws)]
    InboxBatch.objects.create(
        source=source, received_at=received, count=31, messages=messages_pack(messages)
    )
    app.control.purge()

    # when: a worker starts (no beat runs in tests)
    start_workers((f"fresh-{os.getpid()}@host-c", ["ingest", "scoring"], 1))

    # then
    wait_for(lambda: not InboxBatch.objects.exists(), timeout=60)
    assert Event.objects.filter(lead__email="left@example.co.jp", type="page").count() == 30
