"""Per-write-key rate limit of /v1/* (SPEC §3: 429 with Retry-After), counted in real Redis,
and failing open when Redis is down (docs/security.md, docs/operations.md)."""

import os
import shutil
import socket
import subprocess
import time
import uuid

import pytest
import redis
from rest_framework.test import APIClient

from mqlapp.leads.ingest import ratelimit
from mqlapp.leads.models import Event
from mqlapp.leads.services import source_create
from tests.conftest import _worker_redis_url, basic, requires_services

pytestmark = [pytest.mark.django_db, requires_services]


@pytest.fixture
def limited(settings):
    """A limit of 5 messages a minute per key, counted in the test Redis (its keys emptied)."""
    # each pytest-xdist process has its own Redis database (its source ids overlap others')
    url = _worker_redis_url(os.environ["MQLAPP_TEST_REDIS_URL"])
    client = redis.Redis.from_url(url)
    for key in client.scan_iter("mqlapp:ingest-rate:*"):
        client.delete(key)
    settings.INGEST_RATE_REDIS_URL = url
    settings.INGEST_RATE_LIMIT = 5
    settings.INGEST_RATE_WINDOW_SECONDS = 60
    ratelimit._State.failed_until = 0.0
    yield settings
    ratelimit._State.failed_until = 0.0


def _pages(n):
    return [{"type": "page", "anonymousId": "v", "messageId": str(uuid.uuid4())} for _ in range(n)]


def _batch(key, n, **headers):
    body = {"batch": _pages(n)}
    return APIClient().post(
        "/v1/batch", body, format="json", HTTP_AUTHORIZATION=basic(key), **headers
    )


def test_past_the_limit_a_key_gets_429_with_retry_after(limited):
    site = source_create(name="Site", allowed_origins=["https://a.example"])
    other = source_create(name="Other", allowed_origins=[])

    assert _batch(site.write_key, 3).status_code == 200
    assert _batch(site.write_key, 2).status_code == 200
    refused = _batch(site.write_key, 1, HTTP_ORIGIN="https://a.example")

    assert refused.status_code == 429
    retry_after = int(refused["Retry-After"])
    assert retry_after in range(1, 61)  # seconds, within the window
    body = refused.json()
    assert body["success"] is False
    assert body["code"] == "rate_limited"
    assert body["retry_after"] == retry_after
    assert "too many messages for this write key" in body["error"]
    # the browser can read the answer (CORS), and the refused message was not stored
    assert refused["Access-Control-Allow-Origin"] == "https://a.example"
    assert Event.objects.filter(source=site).count() == 5
    # another key has its own count
    assert _batch(other.write_key, 5).status_code == 200


def test_a_batch_costs_its_messages(limited):
    site = source_create(name="Site", allowed_origins=[])
    assert _batch(site.write_key, 6).status_code == 429
    assert not Event.objects.exists()


def test_the_limit_lifts_when_the_window_ends(limited):
    limited.INGEST_RATE_WINDOW_SECONDS = 2
    site = source_create(name="Site", allowed_origins=[])
    for _ in range(30):  # a window may end meanwhile: then 6 more are needed
        response = _batch(site.write_key, 1)
        if response.status_code == 429:
            break
    assert response.status_code == 429
    time.sleep(int(response["Retry-After"]) + 0.1)
    assert _batch(site.write_key, 1).status_code == 200


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _redis_start(port):
    proc = subprocess.Popen(
        [
            shutil.which("redis-server") or "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(host="127.0.0.1", port=port)
    for _ in range(100):
        try:
            client.ping()
        except redis.ConnectionError:
            time.sleep(0.05)
        else:
            return proc
    proc.kill()
    raise RuntimeError("redis-server did not start")


def _redis_stop(proc):
    proc.terminate()
    proc.wait(timeout=10)


def test_with_redis_down_ingestion_goes_on_unlimited_and_the_limit_returns(limited):
    # given: the limit counted in a private Redis, which refuses the 6th message
    port = _free_port()
    server = _redis_start(port)
    try:
        limited.INGEST_RATE_REDIS_URL = f"redis://127.0.0.1:{port}/0"
        limited.INGEST_RATE_FAIL_OPEN_SECONDS = 0.5
        site = source_create(name="Site", allowed_origins=[])
        assert _batch(site.write_key, 5).status_code == 200
        assert _batch(site.write_key, 1).status_code == 429

        # when: Redis stops
        _redis_stop(server)
        # then: ingestion answers and stores, unlimited (fail open)
        answers = [_batch(site.write_key, 5).status_code for _ in range(3)]
        assert answers == [200, 200, 200]
        assert Event.objects.filter(source=site).count() == 20

        # when: Redis is back (restarted empty) and the fail-open pause has passed
        server = _redis_start(port)
        time.sleep(0.6)
        # then: the limit counts again
        assert _batch(site.write_key, 5).status_code == 200
        assert _batch(site.write_key, 1).status_code == 429
    finally:
        if server.poll() is None:
            _redis_stop(server)
