"""Every task of ours has a queue, and every place that starts workers consumes all of them:
the routes (tasks, beat entries), a worker given no -Q, `make run`, and docker-compose.yml
(one pool per queue; web and workers through PgBouncer in transaction mode, migrations not)."""

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from celery import current_app
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
QUEUES = {"ingest", "scoring", "handoff", "webhooks"}
OURS = ("mqlapp.", "scoring.", "handoff.")


def _our_tasks() -> list[str]:
    return sorted(name for name in current_app.tasks if name.startswith(OURS))


def _queue(name: str, options: dict[str, Any] | None = None) -> str:
    """The queue a message for task `name` is published to (what send_task and beat do)."""
    return current_app.amqp.router.route(dict(options or {}), name)["queue"].name


def test_the_four_queues_are_the_configured_ones():
    assert set(settings.MQLAPP_QUEUES) == QUEUES
    assert {q.name for q in settings.CELERY_TASK_QUEUES} == QUEUES
    assert settings.CELERY_TASK_DEFAULT_QUEUE in QUEUES


@pytest.mark.django_db
def test_every_task_of_ours_has_a_route_to_one_of_the_four_queues():
    names = _our_tasks()
    # the three apps' tasks are all registered (a missing import would hide a task)
    assert {name.split(".tasks.")[0] for name in names} == {"mqlapp.leads", "scoring", "handoff"}
    for name in names:
        # an explicit route, not the default queue catching a task nobody placed
        assert current_app.amqp.router.lookup_route(name, (), {}, {}) is not None, name
        assert _queue(name) in QUEUES, name


@pytest.mark.django_db
def test_each_kind_of_work_lands_on_its_own_queue():
    queues = {name: _queue(name) for name in _our_tasks()}
    webhooks = {"handoff.tasks.webhook_deliver", "handoff.tasks.webhook_deliveries_due"}
    for name, queue in queues.items():
        if name.startswith("mqlapp.leads.tasks."):
            assert queue == "ingest", name
        elif name.startswith("scoring.tasks."):
            assert queue == "scoring", name
        elif name in webhooks:
            assert queue == "webhooks", name
        else:
            assert name.startswith("handoff.tasks."), name
            assert queue == "handoff", name
    assert webhooks <= set(queues)
    assert queues["handoff.tasks.assignment_notify"] == "handoff"
    assert queues["scoring.tasks.leads_score_pending"] == "scoring"


@pytest.mark.django_db
def test_every_beat_entry_is_routed_like_its_task():
    schedule = current_app.conf.beat_schedule
    assert schedule
    for key, entry in schedule.items():
        queue = _queue(entry["task"], entry.get("options"))
        assert queue in QUEUES, key
        assert queue == _queue(entry["task"]), key
    assert _queue(schedule["handoff-webhooks"]["task"]) == "webhooks"
    assert _queue(schedule["score-sweep"]["task"]) == "scoring"


def test_a_worker_given_no_queues_consumes_all_four():
    # `celery worker` without -Q consumes the declared task queues, not only the default one
    assert set(current_app.amqp.queues.consume_from) == QUEUES


def _worker_queues(command: str) -> set[str]:
    """The queues of the `celery worker` started in a shell command (-Q a,b)."""
    found = re.search(r"celery -A mqlapp worker\b[^&\"]*?-Q\s+([\w,]+)", command)
    assert found, command
    return set(found[1].split(","))


def test_make_run_starts_its_one_worker_on_every_queue():
    makefile = (ROOT / "Makefile").read_text()
    run = makefile[makefile.index("\nrun:") : makefile.index("\nlint:")]
    assert run.count("celery -A mqlapp worker") == 1
    assert _worker_queues(run.replace("\\\n", " ")) == QUEUES


def _compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_runs_a_worker_pool_per_queue_and_one_beat():
    services = _compose()["services"]
    consumed: dict[str, str] = {}
    for name, service in services.items():
        command = service.get("command")
        if isinstance(command, str) and "celery -A mqlapp worker" in command:
            (queue,) = _worker_queues(command)
            assert name == f"worker-{queue}"
            consumed[queue] = name
    assert set(consumed) == QUEUES
    beats = [n for n, s in services.items() if "celery -A mqlapp beat" in str(s.get("command"))]
    assert beats == ["beat"]


def test_compose_web_and_workers_go_through_pgbouncer_in_transaction_mode():
    services = _compose()["services"]
    bouncer = services["pgbouncer"]["environment"]
    assert bouncer["POOL_MODE"] == "transaction"
    assert bouncer["DB_HOST"] == "postgres"
    port = bouncer["LISTEN_PORT"]
    app_services = [n for n in services if n == "web" or n.startswith(("worker-", "beat"))]
    assert len(app_services) == 6
    for name in app_services:
        environment = services[name]["environment"]
        assert environment["DATABASE_URL"].split("@")[1].startswith(f"pgbouncer:{port}/"), name
        assert environment["DATABASE_POOLER"] == "transaction", name
        assert "pgbouncer" in services[name]["depends_on"], name
    # migrations need a session of their own: straight to PostgreSQL
    migrate = services["migrate"]["environment"]
    assert migrate["DATABASE_URL"].split("@")[1].startswith("postgres:5432/")
    assert not migrate["DATABASE_POOLER"]


def test_compose_gives_the_workers_the_cpu_the_web_leaves():
    """On a shared host a sender is answered first (docs/scaling.md, "One host"): every
    worker and the beat weigh less than the web (Docker's default weight, 1,024)."""
    services = _compose()["services"]
    assert "cpu_shares" not in services["web"]
    workers = [n for n in services if n.startswith(("worker-", "beat"))]
    assert len(workers) == 5
    for name in workers:
        assert services[name]["cpu_shares"] < 1024 // 8, name
