"""WSGI entry point (gunicorn mqlapp.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mqlapp.settings")
application = get_wsgi_application()

from mqlapp.leads.process import process_tune  # noqa: E402 (after Django is set up)

process_tune()
