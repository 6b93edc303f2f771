"""A CP932 seminar list of 1,001 rows imported by the real Celery worker, with progress."""

import pytest

from handoff.models import LeadView
from scoring.services import rule_create
from tests.conftest import requires_services, wait_for
from tests.mqlapp.test_imports import seminar_csv, upload

pytestmark = [requires_services, pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_worker_imports_a_cp932_list_and_the_events_score(celery_worker_process, api):
    rule_create(
        data={"name": "Seminar", "kind": "behavior", "event": "Seminar Attended", "points": 30}
    )
    client = api("marketer")
    response = upload(client, seminar_csv(rows=1001, bad_row_at=999))
    assert response.status_code == 202
    job_id = response.json()["id"]
    seen = []

    def finished():
        job = client.get(f"/api/imports/{job_id}/").json()
        seen.append((job["status"], job["processed"]))
        return job if job["status"] in ("done", "failed") else None

    job = wait_for(finished, timeout=120, every=0.05)
    assert {k: job[k] for k in ("status", "total", "processed", "created", "updated")} == {
        "status": "done",
        "total": 1001,
        "processed": 1001,
        "created": 1000,
        "updated": 0,
    }
    assert job["errors"] == [{"row": 1001, "error": "email: Enter a valid email address."}]
    # progress only ever moves forward while the job runs
    processed = [p for _, p in seen]
    assert processed == sorted(processed)
    # the imported seminar attendance counts in the leads' scores
    wait_for(lambda: LeadView.objects.filter(scoring__score=30).count() == 1000, timeout=120)
