"""What `make run` relies on: the demo seed, and /healthz (503 without a database)."""

import os
import subprocess
import sys

import pytest

from handoff.models import LeadView
from tests.conftest import ROOT


@pytest.mark.django_db
def test_demo_seed_creates_logins_rules_leads_and_mqls():
    from mqlapp.console.demo import DEMO_USERS, demo_seed
    from mqlapp.leads.models import User
    from mqlapp.leads.roles import user_role
    from scoring.models import ScoringRule

    demo_seed(leads=40)
    for username, password, role in DEMO_USERS:
        user = User.objects.get(username=username)
        assert user.check_password(password)
        assert user_role(user) == role
    assert ScoringRule.objects.count() >= 10
    assert LeadView.objects.count() == 40
    assert LeadView.objects.filter(scoring__score__gt=0).count() >= 30
    assert LeadView.objects.filter(lifecycle__stage="mql").exclude(lifecycle__owner=None).exists()
    # a second run changes nothing
    demo_seed(leads=40)
    assert LeadView.objects.count() == 40
    assert User.objects.count() == len(DEMO_USERS)


def test_healthz_is_503_when_the_database_is_down():
    script = (
        "import django, json; django.setup();"
        "from django.test import Client;"
        "r = Client().get('/healthz');"
        "print(r.status_code, json.dumps(r.json()))"
    )
    env = {
        **os.environ,
        "DEBUG": "true",
        "DJANGO_SETTINGS_MODULE": "mqlapp.settings",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:1/nowhere",
        "ALLOWED_HOSTS": "*",
    }
    result = subprocess.run(  # noqa: PLW1510 (the test reads the exit code)
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    status, _, body = result.stdout.strip().partition(" ")
    assert status == "503", result.stdout + result.stderr
    assert '"database": {"ok": false' in body
