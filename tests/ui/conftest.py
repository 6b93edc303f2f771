"""Browser walks of the console: a console with something in every stage, each role signed in,
in Japanese and English; axe-core from the npm registry (tests/ui/package.json, installed into
tests/ui/node_modules at test time, never committed)."""

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from tests.e2e.conftest import CHROMIUM

HERE = Path(__file__).resolve().parent
AXE = HERE / "node_modules" / "axe-core" / "axe.min.js"
# git-ignored (.run/): the test run's screenshots of every page, both languages
SCREENSHOTS = Path(os.environ.get("MQLAPP_SCREENSHOTS", HERE.parents[1] / ".run" / "screenshots"))
PASSWORD = "a-long-test-password"
# usernames that are no stored code (a username "admin" would read like the role's code)
ROLE_USERS = {"admin": "boss", "marketer": "mika", "sales": "taro"}


@pytest.fixture(scope="session")
def axe_path() -> Path:
    """axe-core's script, installed from the lock file by npm on first use."""
    if not AXE.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("npm is needed to install axe-core for the accessibility tests")
        lock = HERE / "package-lock.json"
        command = [npm, "ci" if lock.exists() else "install", "--no-audit", "--no-fund"]
        subprocess.run(command, cwd=HERE, check=True, capture_output=True, timeout=300)
    assert AXE.exists(), AXE
    return AXE


@pytest.fixture
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )  # fmt: skip
        yield browser
        browser.close()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


def new_page(browser: Any, lang: str) -> Any:
    context = browser.new_context(
        locale="ja-JP" if lang == "ja" else "en-US",
        extra_http_headers={"Accept-Language": lang},
        viewport={"width": 1280, "height": 900},
        # axe-core is added to the page as a script tag: the CSP (no inline script) would
        # refuse it. tests/e2e/test_browser_csp.py walks the pages with the CSP on.
        bypass_csp=True,
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    return page


def sign_in_as(page: Any, base: str, role: str) -> None:
    """By the fields' ids, so it works in either language."""
    page.goto(f"{base}/login/")
    page.locator("#id_username").fill(ROLE_USERS[role])
    page.locator("#id_password").fill(PASSWORD)
    page.locator("#id_password").press("Enter")
    page.wait_for_url(f"{base}/")


@pytest.fixture
def console_site(make_user) -> dict[str, Any]:
    """Leads in every stage (rejected and recycled with reasons), rules of each kind, an import,
    a webhook with deliveries, a source: every kind of code the pages show."""
    from handoff.models import Webhook, WebhookDelivery
    from handoff.services import mql_qualify, queue_action
    from mqlapp.leads.models import ImportJob
    from mqlapp.leads.services import source_create
    from scoring.services import rule_create
    from tests.factories import lead_make

    users = {
        "admin": make_user("admin", username=ROLE_USERS["admin"], is_staff=True),
        "marketer": make_user("marketer", username=ROLE_USERS["marketer"]),
        "sales": make_user("sales", username=ROLE_USERS["sales"]),
    }
    rule = rule_create(
        data={"name": "資料ダウンロード", "kind": "behavior", "event": "Document Downloaded",
              "points": 20}
    )  # fmt: skip
    rule_create(
        data={"name": "従業員数", "kind": "fit", "points": 10,
              "conditions": [{"field": "employees", "op": "gte", "value": 100}]}
    )  # fmt: skip
    now = timezone.now()
    rep = users["sales"]
    paths = {
        "nurturing": [],
        "mql": [],
        "sal": ["accept"],
        "sql": ["accept", "qualify"],
        "won": ["accept", "qualify", "win"],
        "lost": ["accept", "qualify", "lose"],
        "disqualified": [("reject", "no_budget")],
        "recycled": [("recycle", "bad_timing")],
    }
    leads = {}
    for i, (stage, actions) in enumerate(paths.items()):
        lead = lead_make(
            email=f"lead{i}@sakura.example.co.jp", last_name="佐藤", first_name=f"花子{i}",
            company="㈱サクラ製作所", score=120,
        )  # fmt: skip
        leads[stage] = lead
        if stage == "nurturing":
            continue
        mql_qualify(lead.pk, score=Decimal(120), reason="threshold", now=now)
        for action in actions:
            name, reason = action if isinstance(action, tuple) else (action, "")
            data = {"reason": reason} if reason else {}
            queue_action(lead.pk, name, user=rep, data=data, now=now)
    # made after the moves, so nothing is sent: its log is written here, one row per status
    hook = Webhook.objects.create(
        url="https://hooks.example.co.jp/mqlapp", events=["lead.mql", "lead.rejected"],
        secret="whsec_dGVzdA==",
    )  # fmt: skip
    for n, status in enumerate(WebhookDelivery.Status.values):
        lead = leads["disqualified"]
        payload = {
            "type": "lead.rejected",
            "data": {"lead": {"id": lead.pk}, "reason": "no_budget"},
        }
        WebhookDelivery.objects.create(
            webhook=hook, event_type="lead.rejected", msg_id=f"msg_ui_{n}",
            payload=json.dumps(payload), status=status, attempts=1, created_at=now,
            last_status_code=500 if status == "failed" else None,
        )  # fmt: skip
    for status in ImportJob.Status.values:
        ImportJob.objects.create(
            status=status, filename=f"{status}.csv", sha256=status * 4, total=10, processed=10,
            created=7, updated=3, created_by=users["marketer"],
        )  # fmt: skip
    source_create(name="コーポレートサイト", allowed_origins=["https://www.example.co.jp"])
    return {"users": users, "leads": leads, "rule": rule, "hook": hook}
