"""mqlapp: leads, events, identity, ingestion and the Django project itself."""

from .celery import app as celery_app

__all__ = ["celery_app"]
