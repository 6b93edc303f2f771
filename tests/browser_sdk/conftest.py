"""The official browser SDKs, installed unmodified from the npm registry at test setup.

`package.json` and `package-lock.json` pin them; `npm ci` installs them into `node_modules/`
(git-ignored, never committed). A test page on another origin of 127.0.0.1 loads the SDK's
browser bundle from that copy and points it at the live server by host settings only. Every
request the page makes to anything but 127.0.0.1 is refused and recorded: no test reaches the
internet, and a test can say what the SDK tried.
"""

import fcntl
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.conftest import static_site

HERE = Path(__file__).resolve().parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
requires_chromium_and_npm = pytest.mark.skipif(
    (not os.path.exists(CHROMIUM) or not shutil.which("npm")) and not IN_CI,
    reason="needs Debian's chromium and npm; under CI (.ci/run) both must be there",
)


def _installed() -> bool:
    """node_modules matches the lock (npm ci writes its own copy of the lock file there)."""
    marker = HERE / "node_modules" / ".package-lock.json"
    if not marker.exists():
        return False
    return marker.stat().st_mtime >= (HERE / "package-lock.json").stat().st_mtime


@pytest.fixture(scope="session")
def sdk_modules() -> Path:
    """tests/browser_sdk/node_modules with the pinned SDKs, installed on first use."""
    # one installer at a time (pytest-xdist workers share the directory)
    with open(HERE / ".npm-install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _installed():
            subprocess.run(
                ["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"],
                cwd=HERE,
                check=True,
                timeout=600,
            )
    return HERE / "node_modules"


@pytest.fixture
def sdk_site(tmp_path: Path, sdk_modules: Path) -> Iterator[Any]:
    """A marketer's site on another origin: the pages written to it and /node_modules/."""
    (tmp_path / "node_modules").symlink_to(sdk_modules, target_is_directory=True)

    with static_site(tmp_path) as served:
        yield served


class Traffic:
    """What the page asked for: `refused` lists every URL off 127.0.0.1 (never sent)."""

    def __init__(self) -> None:
        self.refused: list[str] = []
        self.requests: list[tuple[str, str]] = []
        self.console: list[str] = []
        self.responses: list[tuple[int, str]] = []

    def failures(self, base: str) -> list[tuple[int, str]]:
        """Answers of `base` that were not a success (a 404 would be a file the SDK missed)."""
        return [
            (status, url)
            for status, url in self.responses
            if url.startswith(base) and status >= 300
        ]

    def to(self, base: str) -> list[tuple[str, str]]:
        return [(method, url) for method, url in self.requests if url.startswith(base)]


@pytest.fixture
def sdk_browser(live_server: Any) -> Iterator[tuple[Any, Traffic]]:
    """(page, traffic): Debian's Chromium, every request off 127.0.0.1 refused and recorded."""
    from playwright.sync_api import sync_playwright

    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    traffic = Traffic()

    def route(route: Any) -> None:
        request = route.request
        if urlsplit(request.url).hostname == "127.0.0.1":
            traffic.requests.append((request.method, request.url))
            route.continue_()
        else:
            traffic.refused.append(request.url)
            route.abort("blockedbyclient")

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-sync",
                "--disable-background-networking",
                "--disable-component-update",
            ],
        )
        context = browser.new_context(locale="ja-JP")
        context.route("**/*", route)
        page = context.new_page()
        page.on("console", lambda message: traffic.console.append(message.text))
        page.on("pageerror", lambda error: traffic.console.append(f"page error: {error}"))
        page.on(
            "requestfailed",
            lambda request: traffic.console.append(f"failed: {request.url} {request.failure}"),
        )
        page.on(
            "response",
            lambda response: traffic.responses.append((response.status, response.url)),
        )
        page.set_default_timeout(20_000)
        yield page, traffic
        context.close()
        browser.close()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture
def app_url(live_server: Any) -> str:
    """The live server as the page reaches it: on 127.0.0.1, another port than the site."""
    return str(live_server.url).replace("://localhost:", "://127.0.0.1:")
