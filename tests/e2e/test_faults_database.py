"""Fault: PostgreSQL stops under a running web process, then starts again.

A gunicorn web process (persistent connections, as in production) uses a private PostgreSQL
cluster that the test stops and starts. While it is down, ingestion answers 503 with
Retry-After and stores nothing, the API answers 503 JSON, /healthz names the database; once it
is back, the same web process serves again without a restart.
"""

import base64
import json
import os
import subprocess
import sys
from typing import Any

import pytest

from tests.conftest import ROOT, requires_services

from .processes import PrivatePostgres, Web

pytestmark = [requires_services, pytest.mark.fault]

DATABASE = "mqlapp_fault"
SETUP = """
import json
from django.test import Client
from rest_framework.authtoken.models import Token
from mqlapp.leads.services import source_create, user_create
source = source_create(name="Site", allowed_origins=[])
admin = user_create(username="admin", password="a-long-test-password", role="admin")
browser = Client()
browser.force_login(admin)
print(json.dumps({
    "write_key": source.write_key,
    "token": Token.objects.create(user=admin).key,
    "session": browser.cookies["sessionid"].value,
}))
"""


def _batch(message_id: str) -> dict[str, Any]:
    return {
        "batch": [
            {"type": "identify", "userId": "db-1", "traits": {"email": "db@example.co.jp"}},
            {"type": "track", "userId": "db-1", "event": "Pricing Viewed", "messageId": message_id},
        ]
    }


@pytest.fixture
def cluster() -> Any:
    pg = PrivatePostgres()
    try:
        pg.start()
        pg.create_database(DATABASE)
        yield pg
    finally:
        pg.close()


def test_a_database_outage_answers_503_stores_nothing_and_resumes(cluster):
    # given: a migrated private database, and a web process on it (no broker: tasks run in
    # the web process, so PostgreSQL is the only service)
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_POOLER", "REDIS_URL", "CELERY_BROKER_URL")
    }
    env |= {
        "DJANGO_SETTINGS_MODULE": "mqlapp.settings",
        "DEBUG": "true",
        "DATABASE_URL": cluster.url(DATABASE),
        "CONN_MAX_AGE": "60",
        "LANGUAGE_CODE": "en",
    }
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    out = subprocess.run(
        [*manage, "shell", "-c", SETUP], cwd=ROOT, env=env, check=True, capture_output=True
    ).stdout
    keys = json.loads(out.decode().strip().splitlines()[-1])
    basic = base64.b64encode(f"{keys['write_key']}:".encode()).decode()
    ingest = {"Authorization": f"Basic {basic}"}
    api = {"Authorization": f"Token {keys['token']}", "Accept": "application/json"}
    page = {"Cookie": f"sessionid={keys['session']}", "Accept": "text/html"}
    web = Web(env)
    try:
        status, _, _ = web.request("POST", "/v1/batch", _batch("before"), ingest)
        assert status == 200
        assert web.request("GET", "/api/leads/", headers=api)[0] == 200
        assert web.request("GET", "/leads/", headers=page)[0] == 200

        # when: PostgreSQL stops
        cluster.stop()

        # then: ingestion refuses with 503 and Retry-After, and says nothing was stored
        status, headers, body = web.request("POST", "/v1/batch", _batch("during"), ingest)
        assert (status, headers.get("Retry-After")) == (503, "10"), body
        answer = json.loads(body)
        assert answer["success"] is False
        assert answer["code"] == "unavailable"
        assert "nothing was stored" in answer["error"]
        # the API answers 503 JSON too, not a 500 page
        status, headers, body = web.request("GET", "/api/leads/", headers=api)
        assert (status, headers.get("Retry-After")) == (503, "10"), body
        assert json.loads(body)["code"] == "database_unavailable"
        # and a console page answers a short 503 page
        status, headers, body = web.request("GET", "/leads/", headers=page)
        assert (status, headers.get("Retry-After")) == (503, "10"), body
        assert b"<h1>Temporarily unavailable</h1>" in body
        # and /healthz names the database as the part that is down
        status, _, body = web.request("GET", "/healthz")
        health = json.loads(body)
        assert status == 503
        assert health["status"] == "down"
        assert health["database"]["ok"] is False

        # when: PostgreSQL is back (the 503 answered batch was stored nowhere)
        cluster.start()
        assert _stored(cluster) == ["before"]

        # then: the same web process serves again, on every one of its threads
        for _ in range(8):
            status, _, body = web.request("POST", "/v1/batch", _batch("during"), ingest)
            assert status == 200, body
        assert web.request("GET", "/api/leads/", headers=api)[0] == 200
        assert web.request("GET", "/leads/", headers=page)[0] == 200
        assert web.request("GET", "/healthz")[0] == 200
        assert _stored(cluster) == ["before", "during"]
    finally:
        web.close()


def _stored(cluster: PrivatePostgres) -> list[str]:
    sql = "SELECT message_id FROM leads_event WHERE type = 'track' ORDER BY received_at"
    rows = cluster.query(DATABASE, sql)
    return [row[0] for row in rows]
