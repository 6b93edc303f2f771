"""Django app config for scoring."""

from django.apps import AppConfig


class ScoringConfig(AppConfig):
    name = "scoring"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Register the tasks in every process (eager mode finds them by name) and this
        # app's periodic jobs with beat.
        from celery import current_app as app  # noqa: PLC0415 (AppConfig.ready: after the app registry)

        from mqlapp.leads import hooks as lead_hooks  # noqa: PLC0415 (AppConfig.ready: after the app registry)

        from . import services, tasks  # noqa: PLC0415 (AppConfig.ready: after the app registry)

        app.conf.beat_schedule = {**(app.conf.beat_schedule or {}), **tasks.BEAT}
        lead_hooks.register(
            created=services.score_rows_create,
            changed=services.leads_score_enqueue,
            merged=services.score_rows_merge,
        )
