"""GET /healthz names the database, broker and workers."""

import pytest
from django.test import Client


@pytest.mark.django_db
def test_healthz_reports_each_part():
    response = Client().get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["database"]["ok"] is True
    assert set(body) == {"status", "database", "broker", "workers"}
