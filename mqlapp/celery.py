"""The Celery application: configured from Django settings (CELERY_* names)."""

import os

from celery import Celery
from celery.signals import worker_init, worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mqlapp.settings")

app = Celery("mqlapp")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# The sweeps of the work a worker killed midway leaves in the database (an inbox row, queued
# leads, a re-score job's ranges): a worker that starts sends them at once, so a restart after
# kill -9 carries on without waiting for beat (whose sweeps run them every 15 s to 1 min).
CATCH_UP = (
    "mqlapp.leads.tasks.inbox_sweep",
    "scoring.tasks.leads_score_pending",
    "scoring.tasks.rescore_sweep",
    "handoff.tasks.leads_qualify_pending",
)


@worker_ready.connect
def catch_up(sender: object = None, **_: object) -> None:
    if app.conf.task_always_eager:
        return
    for name in CATCH_UP:
        app.send_task(name)


@worker_init.connect
def tune(sender: object = None, **_: object) -> None:
    """Before the pool forks: its processes inherit the setting."""
    from mqlapp.leads.process import process_tune  # noqa: PLC0415 (Django is set up by now)

    process_tune()
