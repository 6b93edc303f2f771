"""mqlapp: the Django project shell (settings, URLs, the Celery app) and, inside it, the core
domain (`mqlapp.leads`) and the web console (`mqlapp.console`)."""

from .celery import app as celery_app

__all__ = ["celery_app"]
