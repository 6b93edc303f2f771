"""Django app config for the core domain: leads, events, identities, sources, consent."""

from django.apps import AppConfig


class LeadsConfig(AppConfig):
    name = "mqlapp.leads"
    label = "leads"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Register this app's Celery tasks in every process (eager mode finds them by name)
        # and its periodic jobs with beat.
        from celery import current_app as app  # noqa: PLC0415 (AppConfig.ready: after the app registry)

        from . import tasks  # noqa: PLC0415 (AppConfig.ready: after the app registry)

        app.conf.beat_schedule = {**(app.conf.beat_schedule or {}), **tasks.BEAT}
