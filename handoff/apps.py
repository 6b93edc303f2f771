"""Django app config for handoff: its tasks and beat jobs, and its hooks on the apps below."""

from django.apps import AppConfig


class HandoffConfig(AppConfig):
    name = "handoff"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Register the Celery tasks in every process, so eager mode can find them by name,
        # and this app's periodic jobs with beat; then the hooks through which the core and
        # scoring tell handoff what happened, without importing it.
        from celery import current_app as app  # noqa: PLC0415 (AppConfig.ready: after the app registry)

        from mqlapp.leads import hooks as lead_hooks  # noqa: PLC0415 (AppConfig.ready: after the app registry)
        from scoring import hooks as scoring_hooks  # noqa: PLC0415 (AppConfig.ready: after the app registry)

        from . import lead_rows, qualify, services, tasks  # noqa: PLC0415 (AppConfig.ready: after the app registry)

        app.conf.beat_schedule = {**(app.conf.beat_schedule or {}), **tasks.BEAT}
        lead_hooks.register(
            created=lead_rows.lifecycle_rows_create,
            prefer=lead_rows.merge_prefer,
            merged=lead_rows.lifecycle_merge,
            unmerged=lead_rows.lifecycle_unmerge,
            erased=lead_rows.sales_data_erase,
        )
        scoring_hooks.register(
            computed=qualify.qualify_enqueue, published=services.qualify_eligible_later
        )
