"""Private services for fault tests: a Redis, a PostgreSQL cluster and a gunicorn web process
of the test's own, which it may stop and start at will (never the shared ones)."""

import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from tests.conftest import ROOT

PG_BIN = Path("/usr/lib/postgresql/15/bin")
LOGS = ROOT / ".pytest_cache"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _log(name: str) -> IO[str]:
    LOGS.mkdir(exist_ok=True)
    return open(LOGS / f"fault-{name}.log", "a")


def _stop(proc: subprocess.Popen[Any], timeout: float = 30) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _until(check: Any, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise RuntimeError(f"{what} not ready within {timeout} s (see {LOGS}/fault-*.log)")


class PrivateRedis:
    """`redis-server` on a free port, without persistence: each start is an empty Redis."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None
        self._log = _log("redis")

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no"]
        self.proc = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT)
        _until(self.answers, timeout=30, what="private redis-server")

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None:
            _stop(self.proc)
            self.proc = None

    def close(self) -> None:
        self.stop()
        self._log.close()


class PrivatePostgres:
    """A throw-away PostgreSQL 15 cluster (initdb, pg_ctl) on a free port in a temporary
    directory; as root it runs as the `postgres` user, since initdb refuses root."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="mqlapp-fault-pg-"))
        self.data = self.dir / "data"
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self._as:
            shutil.chown(self.dir, "postgres", "postgres")
        initdb = [str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust"]
        self._run([*initdb, "--no-sync", "-E", "UTF8", "--locale=C.UTF-8"])

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, command: list[str]) -> None:
        with _log("postgres") as log:
            subprocess.run([*self._as, *command], check=True, stdout=log, stderr=subprocess.STDOUT)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = self.dir / "server.log"
        pg_ctl = [str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(log), "-w"]
        self._run([*pg_ctl, "-o", options, "start"])

    def stop(self) -> None:
        self._run([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"])

    def create_database(self, name: str) -> None:
        import psycopg2

        conn = psycopg2.connect(self.url("postgres"))
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
        conn.close()

    def query(self, database: str, sql: str) -> list[tuple[Any, ...]]:
        import psycopg2

        conn = psycopg2.connect(self.url(database))
        try:
            with conn.cursor() as cursor:
                cursor.execute(sql)
                return list(cursor.fetchall())
        finally:
            conn.close()

    def close(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class Web:
    """gunicorn serving mqlapp on a free port with the given environment."""

    def __init__(self, env: Mapping[str, str], *, threads: int = 4) -> None:
        self.port = free_port()
        self._log = _log("web")
        command = [sys.executable, "-m", "gunicorn", "mqlapp.wsgi", "--bind"]
        command += [f"127.0.0.1:{self.port}", "--workers", "1", "--worker-class", "gthread"]
        command += ["--threads", str(threads), "--timeout", "120", "--no-control-socket"]
        self.proc = subprocess.Popen(
            command, cwd=ROOT, env=dict(env), stdout=self._log, stderr=subprocess.STDOUT
        )
        _until(self._answers, timeout=60, what="gunicorn")

    def _answers(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited (see {LOGS}/fault-web.log)")
        try:
            self.request("GET", "/healthz", timeout=5)
        except OSError:
            return False
        return True

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        *,
        timeout: float = 120,
    ) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        data = json.dumps(body).encode() if body is not None else None
        sent = {"Content-Type": "application/json", **(headers or {})}
        try:
            conn.request(method, path, body=data, headers=sent)
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            conn.close()

    def close(self) -> None:
        _stop(self.proc)
        self._log.close()


def celery(args: list[str], env: Mapping[str, str], name: str) -> subprocess.Popen[bytes]:
    """`celery -A mqlapp <args>` as a subprocess, its output in .pytest_cache/fault-<name>.log."""
    log = _log(name)
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "mqlapp", *args],
        cwd=ROOT,
        env=dict(env),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()  # the child keeps its own descriptor
    return proc


def stop(proc: subprocess.Popen[Any]) -> None:
    _stop(proc)
