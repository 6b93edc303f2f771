"""Django app config for the core domain."""

from django.apps import AppConfig


class MqlappConfig(AppConfig):
    name = "mqlapp"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Register this app's Celery tasks in every process (eager mode finds them by name)
        # and its periodic jobs with beat.
        from . import tasks
        from .celery import app

        app.conf.beat_schedule = {**(app.conf.beat_schedule or {}), **tasks.BEAT}
