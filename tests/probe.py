"""Find PostgreSQL and Redis for `make test`; print shell exports (stderr says what is skipped)."""

import os
import socket
import sys
from urllib.parse import urlparse

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/mqlapp"
DEFAULT_REDIS = "redis://127.0.0.1:6379/15"


def _postgres(url: str) -> str | None:
    try:
        import psycopg2

        parsed = urlparse(url)
        conn = psycopg2.connect(
            host=parsed.hostname,
            port=parsed.port or 5432,
            user=parsed.username or "postgres",
            password=parsed.password or None,
            dbname="postgres",
            connect_timeout=3,
        )
        conn.close()
    except Exception as exc:  # noqa: BLE001 (any failure means: no PostgreSQL to use)
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return None


def _redis(url: str) -> str | None:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname, parsed.port or 6379), timeout=3) as sock:
            sock.sendall(b"PING\r\n")
            answer = sock.recv(16)
    except OSError as exc:
        return str(exc)
    return None if answer.startswith(b"+PONG") else "no PONG"


def main() -> int:
    ci = os.environ.get("CI", "").lower() in ("1", "true", "yes")
    db_url = os.environ.get("DATABASE_URL") or DEFAULT_DB
    redis_url = os.environ.get("REDIS_URL") or DEFAULT_REDIS
    db_error = _postgres(db_url) if db_url.startswith("postgres") else "not PostgreSQL"
    redis_error = _redis(redis_url)
    exports = {}
    if db_error is None:
        exports["DATABASE_URL"] = db_url
    else:
        print(
            f"make test: PostgreSQL not reachable at {db_url} ({db_error}): "
            "using SQLite; integration tests will be SKIPPED",
            file=sys.stderr,
        )
    if redis_error is None:
        exports["MQLAPP_TEST_REDIS_URL"] = redis_url
    else:
        print(
            f"make test: Redis not reachable at {redis_url} ({redis_error}): "
            "integration tests will be SKIPPED",
            file=sys.stderr,
        )
    if db_error is None and redis_error is None:
        exports["MQLAPP_INTEGRATION"] = "1"
        print(
            f"make test: using PostgreSQL {db_url} and Redis {redis_url} with real Celery workers",
            file=sys.stderr,
        )
    elif ci:
        print("make test: CI=true and a service is missing: failing", file=sys.stderr)
        return 1
    for key, value in exports.items():
        print(f"export {key}='{value}'")
    return 0


if __name__ == "__main__":
    sys.exit(main())
