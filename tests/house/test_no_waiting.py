"""Ingestion never waits on a lock that scoring or handoff holds (docs/architecture.md): a
scoring batch and a handoff action each lock only their own rows of a lead, and both queues are
append-only, so events for that very lead are stored while the locks are held."""

import uuid

import pytest
from django.db import connection, transaction
from django.utils import timezone

from handoff.models import LeadLifecycle, QualifyQueue
from mqlapp.leads.ingest.messages import message_parse
from mqlapp.leads.ingest.services import events_ingest
from mqlapp.leads.models import Event
from scoring.models import LeadScore, ScoreQueue
from tests.conftest import requires_postgres
from tests.factories import lead_make
from tests.holding import held_elsewhere


def _track(email: str) -> list:
    raw = {
        "type": "track",
        "userId": email,
        "event": "Document Downloaded",
        "messageId": str(uuid.uuid4()),
        "context": {"traits": {"email": email}},
    }
    return [message_parse(raw, index=0, received_at=timezone.now())]


@requires_postgres  # row locks and lock_timeout are PostgreSQL's
@pytest.mark.django_db(transaction=True)
def test_events_are_stored_while_scoring_and_handoff_hold_the_leads_rows(source):
    lead = lead_make(email="busy@example.co.jp")
    with transaction.atomic():
        ScoreQueue.append([lead.pk])
        QualifyQueue.append([lead.pk])

    def worker() -> None:
        """What a scoring batch and a queue action hold: their rows of the lead, and queue
        rows claimed (SKIP LOCKED) but not yet committed."""
        assert ScoreQueue.claim(limit=10) == [lead.pk]
        assert QualifyQueue.claim(limit=10) == [lead.pk]
        list(LeadScore.objects.select_for_update().filter(lead_id=lead.pk))
        list(LeadLifecycle.objects.select_for_update().filter(lead_id=lead.pk))

    # when: events for the same lead arrive, with no patience for any lock at all
    with held_elsewhere(worker), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '1s'")
        events_ingest(_track("busy@example.co.jp"), source=source)
        # then (inside the request's transaction, which is then rolled back so no task
        # runs): stored, and queued for scoring beside the row the worker claimed
        assert Event.objects.filter(lead_id=lead.pk).count() == 1
        assert ScoreQueue.objects.filter(lead_id=lead.pk).count() == 2
        transaction.set_rollback(True)
