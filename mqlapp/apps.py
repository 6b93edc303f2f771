"""Django app config for the core domain."""

from django.apps import AppConfig


class MqlappConfig(AppConfig):
    name = "mqlapp"
    default_auto_field = "django.db.models.BigAutoField"
