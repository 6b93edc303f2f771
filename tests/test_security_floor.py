"""SPEC §8's security floor: sign-in throttling, CSRF on session writes, deploy checks."""

import os
import secrets
import subprocess
import sys

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.conftest import ROOT

pytestmark = pytest.mark.django_db


def _token(username, password):
    return APIClient().post(
        "/api/auth/token/", {"username": username, "password": password}, format="json"
    )


@pytest.mark.parametrize("limit", [10])
def test_repeated_failed_token_requests_are_throttled(make_user, settings, limit):
    make_user("sales", username="rep")
    settings.LOGIN_FAILURE_LIMIT = limit
    codes = [_token("rep", "wrong").status_code for _ in range(limit)]
    assert codes == [400] * limit
    blocked = _token("rep", "a-long-test-password")
    assert blocked.status_code == 429
    assert "too many failed sign-ins" in blocked.json()["error"]


def test_successful_token_requests_are_not_throttled(make_user):
    make_user("sales", username="rep")
    codes = {_token("rep", "a-long-test-password").status_code for _ in range(30)}
    assert codes == {200}


def test_repeated_failed_browser_logins_are_throttled(make_user, settings):
    make_user("sales", username="rep")
    settings.LOGIN_FAILURE_LIMIT = 3
    client = Client()
    codes = [
        client.post("/login/", {"username": "rep", "password": "x"}).status_code for _ in range(3)
    ]
    assert codes == [200, 200, 200]
    response = client.post("/login/", {"username": "rep", "password": "a-long-test-password"})
    assert response.status_code == 429


def test_browser_login_then_pages(make_user):
    make_user("sales", username="rep")
    client = Client()
    response = client.post("/login/", {"username": "rep", "password": "a-long-test-password"})
    assert response.status_code == 302
    assert client.get("/queue/").status_code == 200
    assert client.get("/leads/").status_code == 200


def test_session_writes_need_the_csrf_token(make_user):
    make_user("marketer", username="mk")
    client = Client(enforce_csrf_checks=True)
    login = client.get("/login/")
    token = login.cookies["csrftoken"].value
    assert (
        client.post(
            "/login/",
            {"username": "mk", "password": "a-long-test-password", "csrfmiddlewaretoken": token},
        ).status_code
        == 302
    )
    refused = client.post("/api/leads/", {"email": "x@y.example"}, content_type="application/json")
    assert refused.status_code == 403
    accepted = client.post(
        "/api/leads/",
        {"email": "x@y.example"},
        content_type="application/json",
        HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value,
    )
    assert accepted.status_code == 201


def test_deploy_check_passes_with_https():
    env = {
        **os.environ,
        "HTTPS": "true",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "mql.example.co.jp",
    }
    result = subprocess.run(  # noqa: PLW1510 (the test reads the exit code)
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_secret_key_is_required_without_debug():
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEBUG")}
    result = subprocess.run(  # noqa: PLW1510 (the test reads the exit code)
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr
