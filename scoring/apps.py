"""Django app config for scoring."""

from django.apps import AppConfig


class ScoringConfig(AppConfig):
    name = "scoring"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Register the tasks in every process (eager mode finds them by name) and this
        # app's periodic jobs with beat.
        from mqlapp.celery import app

        from . import tasks

        app.conf.beat_schedule = {**(app.conf.beat_schedule or {}), **tasks.BEAT}
