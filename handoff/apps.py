"""Django app config for handoff."""

from django.apps import AppConfig


class HandoffConfig(AppConfig):
    name = "handoff"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Register the Celery tasks in every process, so eager mode can find them by name.
        from . import tasks  # noqa: F401
