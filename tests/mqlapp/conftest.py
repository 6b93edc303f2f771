"""Fixtures of the ingestion tests: a clean cache (rate limits), scoring rules, batch posts."""

import os
import shutil
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.conftest import static_site

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
requires_chromium = pytest.mark.skipif(
    not os.path.exists(CHROMIUM) and os.environ.get("CI", "").lower() not in ("1", "true", "yes"),
    reason="needs Debian's chromium (apt-get install -y chromium); under CI it must be there",
)


@pytest.fixture(autouse=True)
def _clean_cache() -> Iterator[None]:
    """Rate limits live in the cache: every test starts with none spent."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def visit_rule(db: Any) -> Any:
    """A page view is worth 5 points."""
    from scoring.services import rule_create

    return rule_create(data={"name": "Visit", "kind": "behavior", "event": "page", "points": 5})


@pytest.fixture
def batch(
    ingest: Callable[..., Any], django_capture_on_commit_callbacks: Any
) -> Callable[..., Any]:
    """batch(*messages) → the JSON answer of /v1/batch; after-commit work (scoring) runs."""

    def post(*messages: dict[str, Any], status: int = 200) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            response = ingest("/v1/batch", {"batch": list(messages)})
        assert response.status_code == status, response.content
        return response.json()

    return post


@pytest.fixture
def site(tmp_path: Any) -> Iterator[Any]:
    """Another origin (a marketer's web site) serving the HTML files written to `site.root`."""
    with static_site(tmp_path) as served:
        yield served


@pytest.fixture
def chromium_page(live_server: Any) -> Iterator[Any]:
    """A fresh page of Debian's Chromium (never a downloaded browser) next to the live server."""
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the test's ORM calls stay sync.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"],
        )
        context = browser.new_context(locale="ja-JP")
        page = context.new_page()
        page.set_default_timeout(15_000)
        yield page
        context.close()
        browser.close()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
