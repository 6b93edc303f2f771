"""The load benchmark: the real stack (gunicorn, a Celery worker, PostgreSQL, Redis) under
`/v1/batch` traffic, with PostgreSQL's own COPY of the same rows as the yardstick.

`python -m tests.bench.load --database-url URL --out results.json [--leads N --events N]`
builds a fresh database at URL, starts the stack on it and measures, in one run:

- the yardstick: COPY of the same event rows into a plain table with three indexes;
- ingest: events accepted (answered 200, so durable) per second, from `--clients` senders
  posting batches of `--batch` messages as fast as they are answered;
- end to end: events stored, scored and qualified per second (until both work queues are
  empty and every lead's score includes its events);
- event -> score visible in the API, at half the measured end-to-end rate (and at full load):
  a probe lead gets one event at a time and the API is polled until its breakdown counts it;
- the peak resident memory of every worker process.

`tests/bench/__main__.py` runs it as a child process and writes the figures into
docs/benchmarks.md. Nothing here asserts a time.
"""

import argparse
import http.client
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from base64 import b64encode
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[2]
PROBE_EVENT = "Bench Probe"
# --leads / --events by BENCH_SCALE (the issue's figures are taken at full).
SCALES = {"full": (10_000, 100_000), "small": (2_000, 20_000), "tiny": (100, 1_000)}
# Runs per BENCH_SCALE, each on a fresh database: the full figures are medians of three;
# the small run is the quick check (about a minute in all, the issue asks).
RUNS = {"full": 3, "small": 1, "tiny": 1}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _peak_rss_mb(pid: int) -> float:
    """VmHWM (peak resident set) of a process and its children, the largest one, in MB."""
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    return max(process_peak_mb(p) for p in pids)


def process_peak_mb(pid: int) -> float:
    """VmHWM of one process in MB (0 when it is gone): the peak of its own memory since it
    started its program. Not `ru_maxrss`, which Linux carries across exec: a process spawned
    by a large one reports at least the size its parent had then."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _tree(pid: int) -> list[int]:
    """A process and its children (a gunicorn master and its workers, a Celery pool)."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    kids = [int(p) for p in children.read_text().split()] if children.exists() else []
    return [pid, *kids]


def _cpu(pid: int) -> float:
    """User + system CPU seconds of one process (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _postgres_backends(database: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if command.startswith("postgres:") and f" {database} " in f"{command} ":
                found.append(int(entry.name))
    return found


def cpu_seconds(stack: "Stack", database: str) -> dict[str, float]:
    """CPU seconds used so far by each part of the stack: the web, each worker pool, the
    database's backends (kept open: CONN_MAX_AGE) and this process (the senders)."""
    parts = {"web": sum(_cpu(p) for p in _tree(stack.web.pid))}
    for name, proc in stack.workers.items():
        parts[f"worker {name}"] = sum(_cpu(p) for p in _tree(proc.pid))
    parts["postgresql"] = sum(_cpu(p) for p in _postgres_backends(database))
    parts["senders (this process)"] = _cpu(os.getpid())
    return parts


def cores_since(stack: "Stack", before: dict[str, float], *, seconds: float) -> dict[str, float]:
    """Cores each part kept busy since `before` (cpu_seconds), over `seconds` of wall time."""
    from django.conf import settings

    after = cpu_seconds(stack, settings.DATABASES["default"]["NAME"])
    return {name: (after[name] - before[name]) / seconds for name in after}


# The workers' CPU priority on this shared box: nice 19 weighs 15 against the web's 1,024,
# as docker-compose's `cpu_shares: 16` does (docs/scaling.md, "One host");
# BENCH_WORKER_NICE=0 runs them as the web.
WORKER_NICE = 19


def _nice_level() -> int:
    return int(os.environ.get("BENCH_WORKER_NICE", WORKER_NICE))


# Processes expanding large batches from the inbox, as docker-compose runs them; with back-fill
# leads scored once the inbox is expanded (SCORING_BULK_SETTLE_SECONDS), two end the full load
# sooner than one while the web still answers above the target (docs/benchmarks.md).
INGEST_PROCESSES = 2


def _ingest_processes() -> int:
    return int(os.environ.get("BENCH_INGEST_PROCESSES", INGEST_PROCESSES))


def _nice() -> list[str]:
    return ["nice", "-n", str(_nice_level())] if _nice_level() else []


class Stack:
    """gunicorn and Celery workers on the benchmark database, as production runs them: a
    pool for the scoring queue, one for ingest (large batches' events) and one for the others
    (handoff, webhooks), so no backlog of one holds another up, each with the CPU the web
    leaves (docs/scaling.md)."""

    POOLS = (("scoring", "scoring"), ("ingest", "ingest"), ("handoff", "handoff,webhooks"))

    def __init__(self, *, env: dict[str, str], web_workers: int, worker_processes: int) -> None:
        self.port = _free_port()
        self.env = env
        logs = ROOT / ".run"
        logs.mkdir(exist_ok=True)
        self._logs = [open(logs / "bench-web.log", "w")]  # noqa: SIM115 (closed in stop)
        self.web = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "mqlapp.wsgi", "--bind",
             f"127.0.0.1:{self.port}", "--workers", str(web_workers), "--no-control-socket",
             "--log-level", "warning", "--timeout", "120"],
            cwd=ROOT, env=env, stdout=self._logs[0], stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.workers: dict[str, subprocess.Popen[bytes]] = {}
        for name, queues in self.POOLS:
            log = open(logs / f"bench-worker-{name}.log", "w")  # noqa: SIM115 (closed in stop)
            self._logs.append(log)
            processes = {"scoring": worker_processes, "ingest": _ingest_processes()}.get(name, 1)
            self.workers[name] = subprocess.Popen(
                [*_nice(), sys.executable, "-m", "celery", "-A", "mqlapp", "worker", "-Q",
                 queues, "-c", str(processes), "--loglevel=WARNING", "-n",
                 f"{name}-{os.getpid()}@%h"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                status, _ = self.request("GET", "/healthz")
                if status == 200:
                    break
            except OSError:
                time.sleep(0.3)
        else:
            self.stop()
            raise RuntimeError("gunicorn did not answer /healthz within 60 s (.run/bench-web.log)")
        self._worker_up()

    def _worker_up(self) -> None:
        from mqlapp.celery import app

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if any(proc.poll() is not None for proc in self.workers.values()):
                raise RuntimeError("a Celery worker exited (.run/bench-worker-*.log)")
            try:
                if len(app.control.ping(timeout=1)) >= len(self.workers):
                    return
            except Exception:  # noqa: BLE001 (not up yet)
                time.sleep(0.5)
        raise RuntimeError("the Celery worker did not answer within 60 s")

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def worker_peak_rss_mb(self) -> float:
        return max(_peak_rss_mb(proc.pid) for proc in self.workers.values())

    def stop(self) -> None:
        processes = [self.web, *self.workers.values()]
        for proc in processes:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in processes:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        for log in self._logs:
            log.close()


# --- the data: identifies first, then activity ------------------------------------------------


def _activity(rng: random.Random, lead: int, k: int, tag: str, at: datetime) -> dict[str, Any]:
    from tests.bench.data import ACTIVITY, CONTEXT

    kind, name, _, props = rng.choices(ACTIVITY, [w for _, _, w, _ in ACTIVITY])[0]
    message: dict[str, Any] = {
        "type": kind, "messageId": f"{tag}-{lead}-{k}", "userId": f"u{lead}",
        "timestamp": at.isoformat(), "properties": props(rng), "context": CONTEXT,
    }  # fmt: skip
    if kind == "track":
        message["event"] = name
    else:
        message["name"] = "Example"
    return message


def identifies(leads: int) -> list[dict[str, Any]]:
    from tests.bench.data import TITLES

    rng = random.Random(5)
    return [
        {"type": "identify", "messageId": f"id-{i}", "userId": f"u{i}",
         "traits": {"email": f"lead{i}@load{i % 97}.example.co.jp", "company": f"Load {i % 97}",
                    "title": rng.choice(TITLES), "employees": rng.choice([20, 150, 900])}}
        for i in range(1, leads + 1)
    ]  # fmt: skip


def activity(leads: int, events: int, *, tag: str, seed: int) -> list[dict[str, Any]]:
    """`events` messages spread evenly over `leads` leads, in shuffled order, over 30 days."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    out = []
    for k in range(events):
        lead = k % leads + 1
        at = now - timedelta(seconds=rng.randint(60, 30 * 86400))
        out.append(_activity(rng, lead, k, tag, at))
    rng.shuffle(out)
    return out


def bodies(messages: list[dict[str, Any]], batch: int) -> list[bytes]:
    import orjson

    return [
        orjson.dumps({"batch": messages[i : i + batch]}) for i in range(0, len(messages), batch)
    ]


# --- the yardstick -----------------------------------------------------------------------------


def copy_text(rows: Iterable[Sequence[str]]) -> str:
    """COPY's text format for rows of (message id, lead id, type, name, properties JSON,
    context JSON, timestamp)."""
    return "".join(
        "\t".join(v.replace("\\", "\\\\").replace("\t", "\\t") for v in row) + "\n" for row in rows
    )


def copy_seconds(text: str) -> float:
    """The yardstick's one measurement: COPY `text` into a fresh table with three indexes
    (message id unique, lead, time), as the events table has; seconds for the COPY alone."""
    import io

    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_copy")
        cursor.execute(
            "CREATE TABLE bench_copy (id bigserial PRIMARY KEY, message_id varchar(200) "
            "NOT NULL UNIQUE, lead_id bigint, type varchar(20), name varchar(200), "
            "properties jsonb, context jsonb, timestamp timestamptz)"
        )
        cursor.execute("CREATE INDEX ON bench_copy (lead_id)")
        cursor.execute("CREATE INDEX ON bench_copy (timestamp)")
        started = time.perf_counter()
        cursor.cursor.copy_expert(
            "COPY bench_copy (message_id, lead_id, type, name, properties, context, "
            "timestamp) FROM STDIN",
            io.StringIO(text),
        )
        seconds = time.perf_counter() - started
        cursor.execute("DROP TABLE bench_copy")
    return seconds


def copy_yardstick(messages: list[dict[str, Any]], *, runs: int = 3) -> dict[str, Any]:
    """COPY the same rows (the event table's main columns): PostgreSQL's own rate on this
    machine, in this run (median of `runs`)."""
    import orjson

    text = copy_text(
        [m["messageId"], str(i % 10_000 + 1), m["type"], m.get("event", ""),
         orjson.dumps(m["properties"]).decode(), orjson.dumps(m["context"]).decode(),
         m["timestamp"]]
        for i, m in enumerate(messages)
    )  # fmt: skip
    times = [copy_seconds(text) for _ in range(runs)]
    seconds = statistics.median(times)
    return {"rows": len(messages), "seconds": seconds, "rows_per_s": len(messages) / seconds,
            "min_s": min(times), "max_s": max(times)}  # fmt: skip


# --- senders and the probe -----------------------------------------------------------------------


def send(
    stack: Stack,
    auth: str,
    payloads: list[bytes],
    *,
    clients: int,
    rate: float | None = None,
    batch: int = 500,
) -> dict[str, Any]:
    """Post every body from `clients` threads (keep-alive connections); with `rate` (events/s
    in all) each sender paces itself. Returns the time until the last answer and the codes."""
    work = list(enumerate(payloads))
    lock = threading.Lock()
    statuses: dict[int, int] = {}
    per_body = None
    if rate:
        per_body = clients * batch / rate  # seconds between one sender's bodies

    def sender() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=120)
        headers = {"Content-Type": "application/json", "Authorization": auth}
        next_at = time.monotonic()
        while True:
            with lock:
                if not work:
                    break
                _, body = work.pop(0)
            if per_body is not None:
                delay = next_at - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                next_at += per_body
            conn.request("POST", "/v1/batch", body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            with lock:
                statuses[response.status] = statuses.get(response.status, 0) + 1
        conn.close()

    threads = [threading.Thread(target=sender) for _ in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"seconds": time.perf_counter() - started, "statuses": statuses}


class Probe(threading.Thread):
    """One event at a time for the probe lead; each time, poll the lead's API answer until its
    breakdown counts that event. Latency = from the send to the first answer that shows it."""

    def __init__(self, stack: Stack, *, auth: str, token: str, lead_id: int) -> None:
        super().__init__(daemon=True)
        self.stack, self.auth, self.token, self.lead_id = stack, auth, token, lead_id
        self.latencies: list[float] = []
        self.stopping = threading.Event()
        self.sent = 0
        self.timeouts = 0

    def _count(self, conn: http.client.HTTPConnection) -> int:
        conn.request("GET", f"/api/leads/{self.lead_id}/score/",
                     headers={"Authorization": f"Token {self.token}"})  # fmt: skip
        response = conn.getresponse()
        body = json.loads(response.read())
        for part in body.get("breakdown") or []:
            if part.get("rule") == PROBE_EVENT:
                return int(part.get("count") or 0)
        return 0

    def run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.stack.port, timeout=120)
        seen = self._count(conn)
        while not self.stopping.is_set():
            self.sent += 1
            body = json.dumps({"type": "track", "event": PROBE_EVENT, "userId": "probe",
                               "messageId": f"probe-{time.time_ns()}"}).encode()  # fmt: skip
            started = time.perf_counter()
            conn.request("POST", "/v1/track", body=body,
                         headers={"Content-Type": "application/json",
                                  "Authorization": self.auth})  # fmt: skip
            conn.getresponse().read()
            while time.perf_counter() - started < 60:
                count = self._count(conn)
                if count > seen:
                    seen = count
                    self.latencies.append(time.perf_counter() - started)
                    break
                time.sleep(0.02)
            else:  # never seen within a minute: counted as a minute (the figure stays honest)
                self.latencies.append(60.0)
                self.timeouts += 1
            self.stopping.wait(0.2)
        conn.close()

    def finish(self) -> dict[str, Any]:
        """Stop probing; the summary."""
        self.stopping.set()
        self.join()
        return self.summary()

    def summary(self) -> dict[str, Any]:
        values = sorted(self.latencies)
        if not values:
            return {"probes": 0}
        return {
            "probes": len(values),
            "p50_s": statistics.median(values),
            "p95_s": values[min(len(values) - 1, round(0.95 * (len(values) - 1)))],
            "max_s": values[-1],
            "timeouts": self.timeouts,
        }


class Profile:
    """Where the time goes during the full-load phase: py-spy samples of the web and worker
    processes (collapsed stacks, children included) and PostgreSQL's wait events, sampled
    from pg_stat_activity every 50 ms. Written to `directory`; summarised in the results."""

    def __init__(self, stack: Stack, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        spy = Path(sys.executable).with_name("py-spy")
        self.spies = []
        self.names = list(stack.workers)
        for name, proc in (("web", stack.web), *stack.workers.items()):
            command = [str(spy), "record", "--pid", str(proc.pid), "--subprocesses", "--rate",
                       "50", "--format", "raw", "--output", str(directory / f"{name}.txt"),
                       "--nonblocking"]  # fmt: skip
            self.spies.append(
                subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            )
        self.waits: dict[str, int] = {}
        self.samples = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()

    def _sample(self) -> None:
        import psycopg2
        from django.conf import settings

        db = settings.DATABASES["default"]
        conn = psycopg2.connect(host=db["HOST"], port=db["PORT"] or 5432, user=db["USER"],
                                password=db.get("PASSWORD") or None, dbname=db["NAME"])  # fmt: skip
        conn.autocommit = True
        with conn.cursor() as cursor:
            while not self.stopping.wait(0.05):
                # What each active backend waits for ("CPU": nothing), and for lock waits the
                # statement that waits (its first words), to find who queues behind whom.
                # A backend on CPU is named by its statement's first words: which statements
                # the database spends its time on.
                cursor.execute(
                    "SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU') || "
                    "CASE WHEN wait_event_type = 'Lock' OR wait_event_type IS NULL THEN ' <- ' "
                    "|| left(regexp_replace(query, '\\s+', ' ', 'g'), 70) ELSE '' END, count(*) "
                    "FROM pg_stat_activity WHERE datname = current_database() "
                    "AND state = 'active' AND pid <> pg_backend_pid() GROUP BY 1"
                )
                self.samples += 1
                for event, count in cursor.fetchall():
                    self.waits[event] = self.waits.get(event, 0) + count
        conn.close()

    def stop(self) -> dict[str, Any]:
        self.stopping.set()
        self.thread.join()
        for spy in self.spies:
            spy.send_signal(signal.SIGINT)
        for spy in self.spies:
            try:
                spy.wait(timeout=60)
            except subprocess.TimeoutExpired:
                spy.kill()
        summary: dict[str, Any] = {
            "pg_active_backends_avg": {
                k: round(v / max(self.samples, 1), 2)
                for k, v in sorted(self.waits.items(), key=lambda kv: -kv[1])
            }
        }
        for name in ("web", *self.names):
            path = self.directory / f"{name}.txt"
            if path.exists():
                summary[name] = top_frames(path)
        return summary


def top_frames(path: Path, *, limit: int = 25) -> list[tuple[str, float]]:
    """The project's own functions by inclusive share of samples (py-spy raw output)."""
    inclusive: dict[str, int] = {}
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        total += int(count)
        seen = set()
        for frame in stack.split(";"):
            name = _project_frame(frame)
            if name and name not in seen:
                seen.add(name)
                inclusive[name] = inclusive.get(name, 0) + int(count)
    ranked = sorted(inclusive.items(), key=lambda kv: -kv[1])[:limit]
    return [(name, round(100 * n / max(total, 1), 1)) for name, n in ranked]


def _project_frame(frame: str) -> str | None:
    """ "function (path/to/file.py:12)" -> "function (file.py)" for the project's own code."""
    function, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    if ".venv" in path or "site-packages" in path or "/lib/python" in path:
        return None
    if not any(part in path for part in ("mqlapp/", "scoring/", "handoff/")):
        return None
    return f"{function} ({path.split('/')[-1]})"


# --- waiting for the pipeline -----------------------------------------------------------------


def backlog() -> dict[str, bool]:
    """Which work queues hold rows. EXISTS, not count(*): polled every 50 ms, counting a
    score queue of 80,000 rows kept a tenth of a PostgreSQL backend busy, on the same two
    cores as the stack it measures."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT FROM leads_inboxbatch), "
            "EXISTS (SELECT FROM scoring_scorequeue), "
            "EXISTS (SELECT FROM handoff_qualifyqueue)"
        )
        inbox, score, qualify = cursor.fetchone()
    return {"inbox": inbox, "score": score, "qualify": qualify}


def wait_settled(*, timeout: float = 1800, drained: dict[str, float] | None = None) -> float:
    """Once every sender has its answers: wait until the work queues are empty. A 200 means
    the events and their "to score" rows are committed together (or, for a large batch, its
    inbox row, which is deleted in the transaction that stores its events and queues them),
    and a scoring batch removes its rows in the transaction that stores the scores and queues
    qualification, so empty queues mean every event sent is stored, scored and qualified.
    `drained` gets, per queue, the last moment (perf_counter) it was seen holding work."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        queues = backlog()
        now = time.perf_counter()
        if drained is not None:
            drained.update({name: now for name, rows in queues.items() if rows})
        if not any(queues.values()):
            return now
        time.sleep(0.05)
    raise RuntimeError(f"the pipeline did not settle within {timeout} s: {backlog()}")


def counts() -> dict[str, int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT count(*) FROM leads_event), (SELECT count(*) FROM leads_lead), "
            "(SELECT count(*) FROM handoff_leadlifecycle WHERE stage <> 'nurturing')"
        )
        events, leads, qualified = cursor.fetchone()
    return {"events": events, "leads": leads, "qualified": qualified}


# --- the run -------------------------------------------------------------------------------


def _setup(leads: int) -> dict[str, Any]:
    """Rules (the demo's and the probe's), the policy, a source and an admin with a token."""
    from django.core.management import call_command
    from rest_framework.authtoken.models import Token

    from mqlapp.console.demo import DEMO_RULES
    from mqlapp.leads.models import Source
    from mqlapp.leads.services import user_create
    from scoring.models import ScoringRule
    from scoring.services import rule_validate
    from scoring.services.state import state_get

    call_command("migrate", verbosity=0)
    probe = {"name": PROBE_EVENT, "kind": "behavior", "event": PROBE_EVENT, "points": 1}
    ScoringRule.objects.bulk_create(
        ScoringRule(**rule_validate(rule)) for rule in [*DEMO_RULES, probe]
    )
    state_get()  # publishes the rules
    source = Source.objects.create(name="bench", allowed_origins=[], kind=Source.Kind.SERVER)
    admin = user_create(username="bench-admin", password="a-long-bench-password", role="admin")
    token = Token.objects.create(user=admin)
    return {"write_key": source.write_key, "token": token.key, "leads": leads}


def run(*, leads: int, events: int, clients: int, batch: int, web_workers: int,
        worker_processes: int, profile_dir: Path | None = None) -> dict[str, Any]:  # fmt: skip
    from django.conf import settings
    from django.db import connection

    settings.DEBUG = False
    setup = _setup(leads)
    auth = "Basic " + b64encode(f"{setup['write_key']}:".encode()).decode()
    env = {**os.environ, "DEBUG": "false", "SECRET_KEY": "bench-" + "x" * 40,
           "ALLOWED_HOSTS": "127.0.0.1,localhost", "LOG_LEVEL": "WARNING"}  # fmt: skip
    # The production defaults for connections (a test run's CONN_MAX_AGE=0 would make every
    # request open a new PostgreSQL connection).
    for name in ("CONN_MAX_AGE", "CELERY_DB_REUSE_MAX"):
        env.pop(name, None)
    results: dict[str, Any] = {"leads": leads, "events": events, "clients": clients,
                               "batch": batch, "web_workers": web_workers,
                               "worker_processes": worker_processes,
                               "worker_nice": _nice_level(),
                               "ingest_processes": _ingest_processes()}  # fmt: skip
    first = activity(leads, events, tag="a", seed=1)
    second = activity(leads, events, tag="b", seed=2)
    results["yardstick"] = copy_yardstick(first)
    print(f"yardstick {results['yardstick']}", flush=True)
    stack = Stack(env=env, web_workers=web_workers, worker_processes=worker_processes)
    try:
        # The leads exist first (one identify each), and the probe lead.
        warm = send(stack, auth, bodies([*identifies(leads), *identifies_probe()], batch),
                    clients=clients)  # fmt: skip
        wait_settled()
        results["identify"] = warm
        probe_id = _lead_id("probe")
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")

        # Full load: every sender as fast as it is answered.
        probe = Probe(stack, auth=auth, token=setup["token"], lead_id=probe_id)
        payloads = bodies(first, batch)
        began = time.perf_counter()
        probe.start()
        profile = Profile(stack, profile_dir) if profile_dir else None
        cpu = cpu_seconds(stack, settings.DATABASES["default"]["NAME"])
        full = send(stack, auth, payloads, clients=clients)
        drained: dict[str, float] = {}
        done = wait_settled(drained=drained)
        results["cores_full"] = cores_since(stack, cpu, seconds=done - began)
        # seconds from the first request until each queue was last seen holding work
        results["drained_full"] = {name: at - began for name, at in drained.items()}
        if profile:
            results["profile"] = profile.stop()
        results["full"] = {**full, "events": len(first),
                           "ingest_per_s": len(first) / full["seconds"],
                           "end_to_end_s": done - began,
                           "end_to_end_per_s": len(first) / (done - began),
                           "probe": probe.finish()}  # fmt: skip
        print(f"full load {results['full']}", flush=True)

        # Half the load the stack sustains, with the probe: the latency a site sees in normal
        # traffic. What it sustains is the end-to-end rate: large batches are accepted faster
        # than that (into the inbox), and half of that acceptance rate can be more than the
        # stack stores and scores, a backlog that grows for as long as it lasts.
        rate = results["full"]["end_to_end_per_s"] / 2
        probe = Probe(stack, auth=auth, token=setup["token"], lead_id=probe_id)
        began = time.perf_counter()
        probe.start()
        half = send(stack, auth, bodies(second, batch), clients=clients, rate=rate, batch=batch)
        done = wait_settled()
        results["half"] = {**half, "events": len(second), "rate": rate,
                           "ingest_per_s": len(second) / half["seconds"],
                           "end_to_end_s": done - began, "probe": probe.finish()}  # fmt: skip
        print(f"half load {results['half']}", flush=True)
        results["worker_peak_rss_mb"] = stack.worker_peak_rss_mb()
    finally:
        stack.stop()
    results["stored"] = counts()
    results["expected_events"] = leads + 1 + len(first) + len(second)
    return results


def identifies_probe() -> list[dict[str, Any]]:
    return [{"type": "identify", "messageId": "id-probe", "userId": "probe",
             "traits": {"email": "probe@load.example.co.jp"}}]  # fmt: skip


def _lead_id(user_id: str) -> int:
    from mqlapp.leads.models import Identity

    return int(
        Identity.objects.filter(value=user_id).values_list("lead_id", flat=True).first() or 0
    )


def _database_create(url: str) -> None:
    from tests.bench.__main__ import _admin

    name = urlparse(url).path.lstrip("/")
    admin = _admin(url)
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')
    admin.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.load")
    scale = os.environ.get("BENCH_SCALE", "") or "full"
    leads, events = SCALES.get(scale, SCALES["full"])
    parser.add_argument("--database-url", required=True)
    redis_default = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/3")
    parser.add_argument("--redis-url", default=redis_default)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--leads", type=int, default=leads)
    parser.add_argument("--events", type=int, default=events)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--web-workers", type=int, default=3)
    parser.add_argument("--worker-processes", type=int, default=2)
    parser.add_argument("--runs", type=int, default=RUNS.get(scale, 3),
                        help="repetitions on a fresh database each (medians reported)")  # fmt: skip
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--profile", type=Path, help="profile the full-load phase into DIR")
    args = parser.parse_args(argv)
    os.environ.update({"DATABASE_URL": args.database_url, "REDIS_URL": args.redis_url,
                       "CELERY_BROKER_URL": args.redis_url})  # fmt: skip
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mqlapp.settings")
    import django
    import redis
    from django.db import connections

    django.setup()
    name = urlparse(args.database_url).path.lstrip("/")
    runs = []
    for number in range(1, args.runs + 1):
        _database_create(args.database_url)
        redis.Redis.from_url(args.redis_url).flushdb()
        try:
            runs.append(run(leads=args.leads, events=args.events, clients=args.clients,
                            batch=args.batch, web_workers=args.web_workers,
                            worker_processes=args.worker_processes,
                            profile_dir=args.profile))  # fmt: skip
            print(f"run {number} of {args.runs} done", flush=True)
        finally:
            connections.close_all()
            if not (args.keep and number == args.runs):
                from tests.bench.__main__ import _database_drop

                _database_drop(args.database_url, name)
    args.out.write_text(json.dumps({"runs": runs}, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
