"""`make run` as a first impression: PORT drives APP_BASE_URL and the demo source's origin,
a webhook receiver on this machine works in demo mode only, the login page offers the
language switch and every page has an icon."""

import os
import subprocess
import sys

import pytest
from django.test import Client

from handoff.webhooks import Refused, url_resolve
from tests.conftest import ROOT


def settings_in_a_process(**env: str) -> subprocess.CompletedProcess[str]:
    script = (
        "import django; django.setup(); from django.conf import settings;"
        "print(settings.APP_BASE_URL, settings.WEBHOOK_ALLOW_LOOPBACK)"
    )
    clean = {k: v for k, v in os.environ.items() if k not in ("APP_BASE_URL", "PORT")}
    return subprocess.run(  # noqa: PLW1510 (the tests read the exit code)
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "mqlapp.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_app_base_url_follows_port_unless_set():
    assert settings_in_a_process(PORT="8123").stdout.split()[0] == "http://127.0.0.1:8123"
    assert settings_in_a_process().stdout.split()[0] == "http://127.0.0.1:8000"
    done = settings_in_a_process(PORT="8123", APP_BASE_URL="https://mql.example.co.jp")
    assert done.stdout.split()[0] == "https://mql.example.co.jp"


def test_demo_mode_needs_debug_and_alone_lets_loopback_webhooks_in():
    assert settings_in_a_process(DEBUG="true").stdout.split()[1] == "False"
    assert settings_in_a_process(DEBUG="true", MQLAPP_DEMO="true").stdout.split()[1] == "True"
    production = settings_in_a_process(DEBUG="false", SECRET_KEY="x" * 50, MQLAPP_DEMO="true")
    assert production.returncode != 0
    assert "MQLAPP_DEMO=true" in production.stderr


def test_the_makefile_runs_the_demo_mode_on_its_port():
    run = (ROOT / "Makefile").read_text().split("\nrun:", 1)[1].split("\n\n", 1)[0]
    assert "export PORT=$(PORT) MQLAPP_DEMO=" in run
    assert "APP_BASE_URL=$${APP_BASE_URL:-http://127.0.0.1:$(PORT)}" in run


@pytest.mark.parametrize(
    ("demo", "url", "allowed"),
    [
        (True, "http://127.0.0.1:9999/hook", True),
        (True, "http://[::1]:9999/hook", True),
        (True, "http://10.0.0.5/hook", False),  # a private network stays refused
        (True, "http://169.254.169.254/latest/meta-data/", False),  # cloud metadata too
        (False, "http://127.0.0.1:9999/hook", False),  # production: the guard is on
    ],
)
def test_loopback_receivers_only_in_demo_mode(settings, demo, url, allowed):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = False
    settings.WEBHOOK_ALLOW_LOOPBACK = demo
    if allowed:
        assert url_resolve(url)[0] == "http"
    else:
        with pytest.raises(Refused):
            url_resolve(url)


@pytest.mark.django_db
def test_the_demo_source_allows_the_served_origin(settings):
    from mqlapp.console.demo import demo_browser_source

    settings.APP_BASE_URL = "http://127.0.0.1:8000"
    assert demo_browser_source().allowed_origins == ["http://127.0.0.1:8000"]
    settings.APP_BASE_URL = "http://127.0.0.1:8123/"  # `make run PORT=8123` later
    assert demo_browser_source().allowed_origins == [
        "http://127.0.0.1:8000",
        "http://127.0.0.1:8123",
    ]
    assert demo_browser_source().allowed_origins == [
        "http://127.0.0.1:8000",
        "http://127.0.0.1:8123",
    ]


@pytest.mark.django_db
def test_the_login_page_has_the_language_switch_and_an_icon():
    client = Client()
    for lang, words in (("ja", "ログイン"), ("en", "Sign in")):
        page = client.get("/login/", HTTP_ACCEPT_LANGUAGE=lang).content.decode()
        assert words in page
        for part in ('id="lang-select"', 'value="en"', 'value="ja"', 'rel="icon"', "favicon.svg"):
            assert part in page, part
    answer = client.post("/i18n/setlang/", {"language": "en", "next": "/login/"})
    assert answer.status_code == 302
    assert "Sign in" in client.get("/login/", HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    assert (ROOT / "static" / "img" / "favicon.svg").read_text().startswith("<svg")
