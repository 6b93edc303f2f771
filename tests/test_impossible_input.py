"""Impossible dates and numbers in parameters and traits answer 400 (or are kept aside), never
500: they are read by the one date reader (mqlapp/leads/parsing.py) and the one employee-count
reader (mqlapp/leads/ingest/fields.py)."""

import uuid

import pytest

from mqlapp.leads.models import Lead
from tests.conftest import client_for
from tests.factories import lead_make

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("query", ["from=2025-02-30T00:00:00", "to=2025-13-01", "from=2025-02-30"])
def test_an_impossible_report_date_is_400(make_user, query):
    answer = client_for(make_user("admin")).get(f"/api/reports/funnel/?{query}")
    assert answer.status_code == 400
    assert answer.json()["code"] == "invalid"


def test_an_impossible_history_since_is_400(make_user):
    lead = lead_make(email="since@example.co.jp")
    client = client_for(make_user("sales"))
    answer = client.get(f"/api/leads/{lead.pk}/score/history/?since=2025-02-30T00:00:00%2B09:00")
    assert answer.status_code == 400
    assert answer.json()["fields"] == {
        "since": ["since must be an ISO 8601 time with a zone, e.g. 2025-06-01T00:00:00+09:00"]
    }


def test_an_employee_count_past_any_company_is_kept_in_traits(ingest):
    body = {
        "type": "identify",
        "userId": "big-co",
        "messageId": str(uuid.uuid4()),
        "traits": {"email": "big@example.co.jp", "employees": "100000000000000000000"},
    }
    assert ingest("/v1/identify", body).status_code == 200
    lead = Lead.objects.get(email="big@example.co.jp")
    assert lead.employees is None
    assert lead.traits["employees"] == "100000000000000000000"
