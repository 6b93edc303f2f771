"""Django app config for handoff."""

from django.apps import AppConfig


class HandoffConfig(AppConfig):
    name = "handoff"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Register the Celery tasks in every process, so eager mode can find them by name,
        # and this app's periodic jobs with beat (each module declares its own BEAT entries).
        from mqlapp.celery import app

        from . import pipeline_tasks, tasks

        app.conf.beat_schedule = {
            **(app.conf.beat_schedule or {}),
            **pipeline_tasks.BEAT,
            **tasks.BEAT,
        }
