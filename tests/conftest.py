"""Shared fixtures: users by role, token API clients, a write key, a real Celery worker."""

import base64
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

ROOT = Path(__file__).resolve().parent.parent
INTEGRATION = os.environ.get("MQLAPP_INTEGRATION") == "1"
requires_postgres = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="needs PostgreSQL (make test uses it when it answers; see tests/probe.py)",
)
requires_services = pytest.mark.skipif(
    not INTEGRATION, reason="needs PostgreSQL and Redis (make test finds them; see tests/probe.py)"
)


@pytest.fixture(autouse=True)
def _eager_celery(request: pytest.FixtureRequest) -> Iterator[None]:
    """Unit and API tests run tasks in-process; integration tests use the real worker."""
    from mqlapp.celery import app

    eager = request.node.get_closest_marker("integration") is None
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = eager
    yield
    app.conf.task_always_eager = previous


@pytest.fixture(autouse=True)
def _clear_cache() -> Iterator[None]:
    """Throttles and rate limits live in the cache: every test starts with a clean one."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def make_user(db: Any) -> Callable[..., Any]:
    from mqlapp.leads.services import user_create

    counter = {"n": 0}

    def make(role: str, **extra: Any) -> Any:
        counter["n"] += 1
        username = extra.pop("username", f"{role}{counter['n']}")
        user = user_create(
            username=username,
            password="a-long-test-password",
            email=f"{username}@example.com",
            role=role,
        )
        for key, value in extra.items():
            setattr(user, key, value)
        user.save()
        return user

    return make


def client_for(user: Any) -> APIClient:
    token, _ = Token.objects.get_or_create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def api(make_user: Callable[..., Any]) -> Callable[[str], APIClient]:
    """api("admin") → an APIClient signed in with a token of a new user in that role."""
    return lambda role: client_for(make_user(role))


@pytest.fixture
def source(db: Any) -> Any:
    from mqlapp.leads.services import source_create

    # A server key (full Segment semantics): what the ingestion tests exercise; the limits
    # of a browser key have their own tests (tests/mqlapp/test_write_keys.py).
    return source_create(
        name="Website", allowed_origins=["https://www.example.co.jp"], kind="server"
    )


def basic(write_key: str) -> str:
    return "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()


@pytest.fixture
def ingest(source: Any) -> Callable[..., Any]:
    """ingest("/v1/batch", body) → the response of a write-key authenticated JSON post."""
    client = APIClient()

    def post(path: str, body: Any, **headers: Any) -> Any:
        return client.post(
            path, body, format="json", HTTP_AUTHORIZATION=basic(source.write_key), **headers
        )

    return post


@pytest.fixture(scope="session")
def worker_mail_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the test worker's email backend writes messages (one file per message)."""
    return tmp_path_factory.mktemp("worker-mail")


def _worker_redis_url(url: str) -> str:
    """Under pytest-xdist each test process starts its own Celery worker on its own test
    database: each gets its own Redis database too, so no worker takes another's tasks."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw"):
        return url
    base, _, number = url.rpartition("/")
    return f"{base}/{int(number or 0) - 1 - int(worker[2:])}"


@dataclass
class Worker:
    """A real `celery worker` process started by a test fixture."""

    nodename: str
    proc: subprocess.Popen[bytes]
    log: IO[str]

    def stop(self) -> int:
        """Warm shutdown (SIGTERM: tasks in hand finish first); returns the exit code."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


def worker_env(*, redis_url: str, mail_dir: Path) -> dict[str, str]:
    """A test worker's environment: the test database, `redis_url` as broker, email to files
    in `mail_dir`, webhooks allowed to reach 127.0.0.1 test receivers, and mails in English
    (the integration tests read their wording; the Japanese mails, the site's default, are
    checked in process by tests/handoff/test_sla_and_notifications.py)."""
    from django.conf import settings
    from django.db import connection

    db = settings.DATABASES["default"]
    return {
        **os.environ,
        "DEBUG": "true",
        "DATABASE_URL": (
            f"postgres://{db['USER']}:{db.get('PASSWORD') or ''}@{db['HOST']}:"
            f"{db['PORT'] or 5432}/{connection.settings_dict['NAME']}"
        ),
        "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": redis_url,
        "EMAIL_URL": "filemail://",
        "EMAIL_FILE_PATH": str(mail_dir),
        "WEBHOOK_ALLOW_PRIVATE_HOSTS": "true",
        "LANGUAGE_CODE": "en",
    }


def workers_start(
    specs: Sequence[tuple[str, Sequence[str], int]], *, env: dict[str, str], log_name: str = ""
) -> list[Worker]:
    """Start one worker per (nodename "name@host", queues, concurrency) and wait until every
    one answers a ping; their logs go to .pytest_cache/celery-worker-*.log."""
    from mqlapp.celery import app

    (ROOT / ".pytest_cache").mkdir(exist_ok=True)
    workers = []
    for nodename, queues, concurrency in specs:
        name = log_name or nodename.replace("@", "-")
        log = open(ROOT / ".pytest_cache" / f"celery-worker-{name}.log", "w")  # noqa: SIM115
        command = [sys.executable, "-m", "celery", "-A", "mqlapp", "worker"]
        command += ["-Q", ",".join(queues), "-c", str(concurrency), "-n", nodename]
        proc = subprocess.Popen(
            [*command, "--loglevel=INFO"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        workers.append(Worker(nodename, proc, log))
    waiting = {w.nodename for w in workers}
    deadline = time.monotonic() + 60
    while waiting and time.monotonic() < deadline:
        if any(w.proc.poll() is not None for w in workers):
            break
        try:
            replies = app.control.ping(destination=sorted(waiting), timeout=1) or []
        except Exception:  # noqa: BLE001 (the worker is not up yet: any error means wait)
            time.sleep(0.5)
            continue
        for reply in replies:
            waiting -= set(reply)
    if waiting:
        for worker in workers:
            worker.stop()
        raise RuntimeError(
            f"Celery workers {sorted(waiting)} did not start (or exited) within 60 s; "
            "see .pytest_cache/celery-worker-*.log"
        )
    return workers


def workers_idle(nodenames: Sequence[str] | None = None, *, timeout: float = 30) -> None:
    """Wait until these workers (default: all) run and hold no task, at most `timeout` s."""
    from mqlapp.celery import app

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        inspect = app.control.inspect(timeout=1, destination=nodenames)
        busy = [*((inspect.active() or {}).values()), *((inspect.reserved() or {}).values())]
        if not any(busy):
            return
        time.sleep(0.2)


# The session worker once it runs: a test that starts its own workers pauses it meanwhile.
_session_workers: list[Worker] = []


@pytest.fixture(scope="session")
def celery_worker_process(
    django_db_setup: Any, django_db_blocker: Any, worker_mail_dir: Path
) -> Iterator[None]:
    """A real Celery worker (2 processes, every queue) on the test database and the test Redis.

    Its email goes to files in `worker_mail_dir`; webhooks may reach 127.0.0.1 test receivers.
    """
    if not INTEGRATION:
        pytest.fail(
            "celery_worker_process needs PostgreSQL and Redis: mark the test requires_services"
        )
    import redis
    from django.conf import settings

    from mqlapp.celery import app

    redis_url = _worker_redis_url(os.environ["MQLAPP_TEST_REDIS_URL"])
    redis.Redis.from_url(redis_url).flushdb()
    app.conf.broker_url = redis_url
    workers = workers_start(
        [(f"test-{os.getpid()}@{socket.gethostname()}", settings.MQLAPP_QUEUES, 2)],
        env=worker_env(redis_url=redis_url, mail_dir=worker_mail_dir),
        log_name=str(os.getpid()),
    )
    _session_workers.extend(workers)
    yield
    _session_workers.clear()
    for worker in workers:
        worker.stop()


@pytest.fixture
def start_workers(
    request: pytest.FixtureRequest, worker_mail_dir: Path
) -> Iterator[Callable[..., list[Worker]]]:
    """start_workers(("name@host", ["scoring", "handoff"], 1), ...) → real workers of the
    test's own, on the test database and this process's test Redis (the session worker, if
    running, consumes nothing meanwhile). At the end they finish what they hold and stop, and
    the queues are emptied, before the database is flushed."""
    if not INTEGRATION:
        pytest.fail("start_workers needs PostgreSQL and Redis: mark the test requires_services")
    request.getfixturevalue("transactional_db")  # set up before us, so flushed after us
    from mqlapp.celery import app

    redis_url = _worker_redis_url(os.environ["MQLAPP_TEST_REDIS_URL"])
    app.conf.broker_url = redis_url
    paused = [w.nodename for w in _session_workers if w.proc.poll() is None]
    consumers("cancel", paused)
    started: list[Worker] = []

    def start(*specs: tuple[str, Sequence[str], int]) -> list[Worker]:
        env = worker_env(redis_url=redis_url, mail_dir=worker_mail_dir)
        workers = workers_start(specs, env=env)
        started.extend(workers)
        return workers

    yield start
    try:
        running = [w.nodename for w in started if w.proc.poll() is None]
        if running:
            workers_idle(running)
    finally:
        for worker in started:
            worker.stop()
        app.control.purge()
        consumers("add", paused)


def consumers(action: str, nodenames: Sequence[str], queues: Sequence[str] = ()) -> None:
    """Make these workers stop ("cancel") or start ("add") consuming from `queues` (all)."""
    if not nodenames:
        return
    from django.conf import settings

    from mqlapp.celery import app

    for queue in queues or settings.MQLAPP_QUEUES:
        command = app.control.cancel_consumer if action == "cancel" else app.control.add_consumer
        replies = command(queue, destination=list(nodenames), reply=True, timeout=5) or []
        if len(replies) != len(nodenames):
            raise RuntimeError(f"{action} consumer {queue}: {replies!r} from {nodenames}")


@pytest.fixture(autouse=True)
def _worker_settles(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a test that used the real worker, wait until it is idle before the database is
    flushed: a TRUNCATE under a task still running deadlocks (the task's follow-ups, such as
    qualification after scoring, run after the test's own wait ends)."""
    if "celery_worker_process" not in request.fixturenames:
        yield
        return
    request.getfixturevalue("transactional_db")  # set up before us, so flushed after us
    yield
    from mqlapp.celery import app

    workers_idle()
    app.control.purge()


def wait_for(check: Callable[[], Any], *, timeout: float = 30.0, every: float = 0.2) -> Any:
    """Poll until `check()` is truthy (a deadline for background work, not a speed test)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(
                f"condition not met within {timeout} s: last value {value!r}{_background_report()}"
            )
        time.sleep(every)


def _background_report() -> str:
    """Where background work may have stopped, for a wait that timed out: the kicks this
    process published, what waits in the broker, and what the session worker consumes."""
    if not _session_workers:
        return ""
    import redis

    from mqlapp.celery import app
    from mqlapp.leads.publisher import publisher

    lines = [f"publisher: sent {publisher.sent}, dropped {publisher.dropped}, "
             f"pending {list(publisher._pending)}, sending {publisher._sending}"]  # fmt: skip
    try:
        client = redis.Redis.from_url(app.conf.broker_url)
        keys = sorted(k.decode() for k in client.keys("*") if b"celery-task-meta" not in k)
        lines.append(f"broker {app.conf.broker_url}: keys {keys}")
        lines += [f"  {key}: {client.llen(key)} waiting" for key in keys
                  if client.type(key) == b"list"]  # fmt: skip
        lines.append(f"  unacked: {client.hlen('unacked')}")
        for worker in _session_workers:
            inspect = app.control.inspect(destination=[worker.nodename], timeout=5)
            queues = (inspect.active_queues() or {}).get(worker.nodename)
            names = [q["name"] for q in queues] if queues is not None else "no answer"
            busy = [(found or {}).get(worker.nodename) for found in
                    (inspect.active(), inspect.reserved())]  # fmt: skip
            alive = worker.proc.poll() is None
            lines.append(f"{worker.nodename} (alive {alive}) consumes {names}; holds {busy}")
    except Exception as exc:  # noqa: BLE001 (a report, not a check)
        lines.append(f"broker report failed: {exc!r}")
    return "\n" + "\n".join(lines)


def signed_in(user: Any, *, language: str = "en") -> Any:
    """A browser-session test client signed in as `user`, asking for `language` pages."""
    from django.test import Client

    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(user)
    return client


@contextlib.contextmanager
def static_site(directory: Path) -> Iterator[Any]:
    """Another origin on 127.0.0.1 (a marketer's web site) serving the files under `directory`;
    `site.page(name, html)` writes a page and returns its URL."""
    import functools
    import http.server
    import threading

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    class Site:
        root = directory
        origin = f"http://127.0.0.1:{server.server_address[1]}"

        def page(self, name: str, html: str) -> str:
            (self.root / name).write_text(html, encoding="utf-8")
            return f"{self.origin}/{name}"

    try:
        yield Site()
    finally:
        server.shutdown()
        server.server_close()
