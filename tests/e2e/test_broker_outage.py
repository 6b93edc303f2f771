"""With the broker down, ingestion still stores events and answers; the sweep scores them."""

import json
import os
import subprocess
import sys

import pytest
from django.db import connection

from handoff.models import LeadView
from mqlapp.leads.models import Event
from mqlapp.leads.services import source_create
from scoring.models import ScoreQueue
from scoring.services import rule_create
from tests.conftest import ROOT, basic, requires_services
from tests.pipeline import leads_score_pending

pytestmark = [requires_services, pytest.mark.django_db(transaction=True)]

SCRIPT = """
import django, json, sys
django.setup()
from django.test import Client
status = Client().post("/v1/batch", data=sys.argv[1], content_type="application/json",
                       HTTP_AUTHORIZATION=sys.argv[2]).status_code
print(json.dumps({"status": status}))
"""


def test_ingestion_survives_a_broker_outage_and_the_sweep_catches_up():
    # given: a rule and a source, and a web process whose broker does not answer
    rule_create(
        data={"name": "Seminar", "kind": "behavior", "event": "Seminar Attended", "points": 30}
    )
    source = source_create(name="Site", allowed_origins=[])
    db = connection.settings_dict
    env = {
        **os.environ,
        "DEBUG": "true",
        "DJANGO_SETTINGS_MODULE": "mqlapp.settings",
        "ALLOWED_HOSTS": "*",
        "REDIS_URL": "",
        "CELERY_BROKER_URL": "redis://127.0.0.1:1/0",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}",
    }
    body = json.dumps(
        {
            "batch": [
                {"type": "identify", "userId": "u-1", "traits": {"email": "outage@example.co.jp"}},
                {"type": "track", "userId": "u-1", "event": "Seminar Attended", "messageId": "s-1"},
            ]
        }
    )
    # when
    result = subprocess.run(  # noqa: PLW1510 (the test reads the exit code)
        [sys.executable, "-c", SCRIPT, body, basic(source.write_key)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    # then: stored and answered, queued for scoring, not yet scored
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"status": 200}, result.stderr
    lead = LeadView.objects.get(email="outage@example.co.jp")
    assert Event.objects.filter(message_id="s-1", lead=lead).exists()
    assert ScoreQueue.objects.filter(lead_id=lead.pk).exists()
    assert lead.score == 0
    # and the periodic sweep (the same task beat runs) scores what was left
    while leads_score_pending(limit=100):
        pass
    lead.refresh_from_db()
    assert lead.score == 30
    assert not ScoreQueue.objects.filter(lead_id=lead.pk).exists()
