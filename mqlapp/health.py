"""GET /healthz: the state of the database, the broker and the workers (503 without a database)."""

from typing import Any

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from handoff.models import QualifyQueue
from mqlapp.leads.models import InboxBatch
from scoring.models import ScoreQueue

from .celery import app


def _database() -> dict[str, Any]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 (health reports any failure, never raises)
        return {"ok": False, "error": type(exc).__name__}
    return {"ok": True, "vendor": connection.vendor}


def _broker() -> dict[str, Any]:
    if app.conf.task_always_eager:
        return {"ok": True, "mode": "eager (no broker: background work runs in-process)"}
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=1)
    except Exception as exc:  # noqa: BLE001 (health reports any failure, never raises)
        return {"ok": False, "error": type(exc).__name__}
    return {"ok": True, "transport": app.conf.broker_url.split("://")[0]}


def _workers(broker_ok: bool) -> dict[str, Any]:
    if app.conf.task_always_eager:
        return {"ok": True, "count": 0, "mode": "eager"}
    if not broker_ok:
        return {"ok": False, "count": 0}
    if app.conf.broker_url.startswith("filesystem://"):
        return {"ok": True, "count": None, "mode": "embedded worker (no broadcast to ping)"}
    try:
        replies = app.control.ping(timeout=0.5) or []
    except Exception as exc:  # noqa: BLE001 (health reports any failure, never raises)
        return {"ok": False, "count": 0, "error": type(exc).__name__}
    return {"ok": bool(replies), "count": len(replies)}


BACKLOG_CAP = 100_000


def _backlog() -> dict[str, Any]:
    """Work waiting in the database: large batches not yet stored (the inbox), queue rows of
    leads to score and to qualify. Numbers that keep growing with workers up mean too few."""
    try:
        # each count stops at BACKLOG_CAP: a load balancer polls this, a backlog can be huge
        return {
            "inbox_batches": InboxBatch.objects.all()[:BACKLOG_CAP].count(),
            "leads_to_score": ScoreQueue.objects.all()[:BACKLOG_CAP].count(),
            "leads_to_qualify": QualifyQueue.objects.all()[:BACKLOG_CAP].count(),
        }
    except Exception as exc:  # noqa: BLE001 (health reports any failure, never raises)
        return {"error": type(exc).__name__}


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    database = _database()
    broker = _broker()
    workers = _workers(broker["ok"])
    status = "ok" if database["ok"] and broker["ok"] and workers["ok"] else "degraded"
    if not database["ok"]:
        status = "down"
    body: dict[str, Any] = {
        "status": status, "database": database, "broker": broker, "workers": workers,
    }  # fmt: skip
    if database["ok"]:
        body["backlog"] = _backlog()
    return JsonResponse(body, status=200 if database["ok"] else 503)
