"""Handoff fixtures: a scoring rule and threshold, events, a local webhook receiver."""

import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


def track(email: str, event: str, n: int = 1, **extra: Any) -> list[dict[str, Any]]:
    return [
        {
            "type": "track",
            "userId": email,
            "event": event,
            "messageId": str(uuid.uuid4()),
            "context": {"traits": {"email": email}},
            **extra,
        }
        for _ in range(n)
    ]


def score_all() -> None:
    from tests.pipeline import leads_score_pending

    while leads_score_pending(limit=100):
        pass


@pytest.fixture
def rules(db: Any) -> None:
    """Downloads earn 20 points; the MQL threshold is 60 (three downloads)."""
    from handoff.services import policy_update
    from scoring.services import rule_create

    rule_create(
        data={"name": "Download", "kind": "behavior", "event": "Document Downloaded", "points": 20}
    )
    policy_update(data={"mql_threshold": 60})


class Receiver:
    """A webhook endpoint on 127.0.0.1: records every request, answers from `statuses`."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode()
                with owner.lock:
                    owner.requests.append(
                        {"path": self.path, "headers": dict(self.headers), "body": body}
                    )
                    status = owner.statuses.pop(0) if owner.statuses else 200
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "http://127.0.0.1:9/elsewhere")
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(json.dumps({"status": status}).encode())

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/mqlapp"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def bodies(self) -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(r["body"]) for r in self.requests]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    found.thread.start()
    yield found
    found.server.shutdown()
    found.server.server_close()


@pytest.fixture
def private_hosts(settings: Any) -> None:
    """Webhooks may reach the 127.0.0.1 test receiver (the worker has this set too)."""
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True
