"""Fault: the broker (Redis) goes down under a running stack, then comes back empty.

A gunicorn web process, a Celery worker and beat all use a private redis-server, which the
test stops and starts. Ingestion must not wait for the broker, and what was stored meanwhile
must be scored once Redis is back, without any further request.
"""

import base64
import json
import os
import socket
import time
from typing import Any

import pytest
from django.conf import settings

from handoff.models import LeadView
from mqlapp.leads.models import Event
from mqlapp.leads.services import source_create
from scoring.models import ScoreQueue
from scoring.services import rule_create
from tests.conftest import requires_services, wait_for, worker_env

from .processes import PrivateRedis, Web, celery, stop

pytestmark = [requires_services, pytest.mark.fault, pytest.mark.django_db(transaction=True)]

# With the old publish-in-the-request, each request with Redis down waited ~6 s in kombu's
# connection retries (4 s at the least): 20 requests took 120 s. Without that wait they take
# well under a second each even on a busy machine. The deadline below only tells the two
# apart, it measures no speed: 20 requests × 4 s is 80 s, twice the deadline.
OUTAGE_REQUESTS = 20
OUTAGE_DEADLINE_SECONDS = 40
# The shortest outage: longer than the score sweep's beat interval (15 s).
OUTAGE_MIN_SECONDS = 25


def _batch(n: int) -> dict[str, Any]:
    email = f"broker-{n}@example.co.jp"
    return {
        "batch": [
            {"type": "identify", "userId": f"b-{n}", "traits": {"email": email}},
            {
                "type": "track",
                "userId": f"b-{n}",
                "event": "Seminar Attended",
                "messageId": f"s{n}",
            },
        ]
    }


def test_ingestion_does_not_wait_for_a_broker_that_is_down_and_the_backlog_drains(tmp_path):
    # given: a rule, a source, and web + worker + beat on a private Redis
    rule_create(
        data={"name": "Seminar", "kind": "behavior", "event": "Seminar Attended", "points": 30}
    )
    source = source_create(name="Site", allowed_origins=[])
    auth = {"Authorization": "Basic " + base64.b64encode(f"{source.write_key}:".encode()).decode()}
    redis = PrivateRedis()
    redis.start()
    env = worker_env(redis_url=redis.url, mail_dir=tmp_path)
    env["CONN_MAX_AGE"] = "0"
    queues = ",".join(settings.MQLAPP_QUEUES)
    node = f"fault-broker-{os.getpid()}@{socket.gethostname()}"
    processes = [
        celery(["worker", "-Q", queues, "-c", "1", "-n", node, "--loglevel=INFO"], env, "worker"),
        celery(["beat", "--loglevel=INFO", "-s", str(tmp_path / "beat")], env, "beat"),
    ]
    web = Web(env)
    try:
        # the stack works with the broker up: an event is scored soon after it is sent
        status, _, _ = web.request("POST", "/v1/batch", _batch(0), auth)
        assert status == 200
        wait_for(lambda: _score("broker-0@example.co.jp") == 30, timeout=120)

        # when: Redis stops, and 20 batches come in
        redis.stop()
        started = time.monotonic()
        answers = [
            web.request("POST", "/v1/batch", _batch(n), auth)[0]
            for n in range(1, OUTAGE_REQUESTS + 1)
        ]
        elapsed = time.monotonic() - started

        # then: each was answered and stored, none waited for the broker
        assert answers == [200] * OUTAGE_REQUESTS
        assert elapsed < OUTAGE_DEADLINE_SECONDS, f"{OUTAGE_REQUESTS} requests took {elapsed} s"
        assert Event.objects.filter(name="Seminar Attended").count() == OUTAGE_REQUESTS + 1
        status, _, body = web.request("GET", "/healthz")
        assert status == 200
        assert json.loads(body)["broker"]["ok"] is False

        # when: Redis stays down past a beat tick (its sends fail too), then comes back empty
        # (no persistence), and nobody sends anything
        time.sleep(max(0.0, OUTAGE_MIN_SECONDS - (time.monotonic() - started)))
        redis.start()

        # then: the worker and beat reconnect, and every event stored meanwhile is scored
        emails = [f"broker-{n}@example.co.jp" for n in range(OUTAGE_REQUESTS + 1)]
        wait_for(lambda: all(_score(email) == 30 for email in emails), timeout=240, every=1)
        assert not ScoreQueue.objects.exists()
        assert all(proc.poll() is None for proc in processes)
    finally:
        web.close()
        for proc in processes:
            stop(proc)
        redis.close()


def _score(email: str) -> int | None:
    lead = LeadView.objects.filter(email=email).first()
    return None if lead is None else lead.score
