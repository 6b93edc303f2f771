"""Django app config for the web console: pages, dashboard, demo data, privacy orchestration."""

from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "mqlapp.console"
    label = "console"
    default_auto_field = "django.db.models.BigAutoField"
