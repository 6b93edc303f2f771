"""Django app config for handoff."""

from datetime import timedelta

from django.apps import AppConfig

BEAT = {
    "score-sweep": {"task": "handoff.tasks.leads_score_pending", "schedule": timedelta(seconds=15)},
    "score-decay": {"task": "handoff.tasks.scores_refresh_all", "schedule": timedelta(hours=1)},
}


class HandoffConfig(AppConfig):
    name = "handoff"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Register the Celery tasks in every process, so eager mode can find them by name,
        # and this app's periodic jobs with beat (each app adds its own entries).
        from mqlapp.celery import app

        from . import pipeline_tasks, tasks  # noqa: F401

        app.conf.beat_schedule = {**(app.conf.beat_schedule or {}), **BEAT}
