"""GET /healthz names the database, broker and workers."""

import pytest
from django.test import Client


@pytest.mark.django_db
def test_healthz_reports_each_part():
    response = Client().get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["database"]["ok"] is True
    assert set(body) == {"status", "database", "broker", "workers", "backlog"}


@pytest.mark.django_db
def test_healthz_counts_the_work_waiting_in_the_database(source):
    from django.utils import timezone

    from handoff.models import QualifyQueue
    from mqlapp.leads.ingest.inbox import inbox_put
    from mqlapp.leads.ingest.messages import message_parse
    from scoring.models import ScoreQueue

    # given: a large batch not yet stored, three leads to score, one to qualify
    now = timezone.now()
    inbox_put([message_parse({"type": "page", "userId": "u"}, index=0, received_at=now)],
              source=source, received_at=now)  # fmt: skip
    ScoreQueue.append([1, 2, 3])
    QualifyQueue.append([4])

    # when / then
    backlog = Client().get("/healthz").json()["backlog"]
    assert backlog == {"inbox_batches": 1, "leads_to_score": 3, "leads_to_qualify": 1}
