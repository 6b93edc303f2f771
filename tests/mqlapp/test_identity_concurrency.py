"""Two requests identifying the same new email at the same moment end on one lead, no error;
two carrying the same messageIds store each once, whichever way the first one ends."""

import threading

import pytest
from django.db import connection, transaction
from django.utils import timezone

from handoff.models import LeadView
from mqlapp.leads.ingest.messages import message_parse
from mqlapp.leads.ingest.services import events_ingest
from mqlapp.leads.models import Event, EventKey, Identity
from tests.conftest import requires_postgres, wait_for
from tests.factories import lead_make


def _identify(anon):
    raw = {"type": "identify", "anonymousId": anon, "traits": {"email": "Race@Example.com"}}
    return [message_parse(raw, index=0, received_at=timezone.now())]


def _blocked_backends():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


@requires_postgres  # PostgreSQL's row locks hold one insert behind the other
@pytest.mark.django_db(transaction=True)
def test_same_new_email_identified_by_two_requests_at_once(source):
    first_inside, release_first = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def first():
        try:
            with transaction.atomic():
                events_ingest(_identify("a-1"), source=source)
                first_inside.set()
                release_first.wait(30)  # hold the new lead uncommitted
        except BaseException as exc:  # noqa: BLE001 (the thread hands it to the test)
            errors.append(exc)
        finally:
            first_inside.set()
            connection.close()

    def second():
        first_inside.wait(30)
        try:
            events_ingest(_identify("a-2"), source=source)
        except BaseException as exc:  # noqa: BLE001 (the thread hands it to the test)
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    # the second insert of the same email waits on the first one's uncommitted row
    wait_for(lambda: _blocked_backends() >= 1, timeout=30)
    release_first.set()
    for thread in threads:
        thread.join(30)

    assert errors == []
    lead = LeadView.objects.get()
    assert lead.email == "race@example.com"
    assert set(Identity.objects.values_list("value", "lead_id")) == {
        ("a-1", lead.pk),
        ("a-2", lead.pk),
    }
    assert lead.events.count() == 2


def _pages(*message_ids):
    return [
        message_parse(
            {"type": "page", "anonymousId": "v-1", "messageId": message_id},
            index=i,
            received_at=timezone.now(),
        )
        for i, message_id in enumerate(message_ids)
    ]


@requires_postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("first_commits", [True, False])
def test_two_requests_with_the_same_message_ids_wait_and_store_each_once(source, first_commits):
    """A retry arriving while the first try is still in its transaction waits for its keys:
    if that commits, the retry's copies are replays; if it fails, the retry stores them."""
    first_inside, release_first = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def first():
        try:
            with transaction.atomic():
                events_ingest(_pages("m-1", "m-2"), source=source)
                first_inside.set()
                release_first.wait(30)
                transaction.set_rollback(not first_commits)  # the first try fails
        except BaseException as exc:  # noqa: BLE001 (the thread hands it to the test)
            errors.append(exc)
        finally:
            first_inside.set()
            connection.close()

    def second():
        first_inside.wait(30)
        try:  # the same ids in another order, and one more
            events_ingest(_pages("m-2", "m-3", "m-1"), source=source)
        except BaseException as exc:  # noqa: BLE001 (the thread hands it to the test)
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    wait_for(lambda: _blocked_backends() >= 1, timeout=30)  # the retry waits on the keys
    release_first.set()
    for thread in threads:
        thread.join(30)

    assert errors == []
    stored = sorted(Event.objects.values_list("message_id", flat=True))
    assert stored == ["m-1", "m-2", "m-3"]
    assert sorted(EventKey.objects.values_list("message_id", flat=True)) == stored


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_a_request_broken_by_a_deadlock_is_tried_again_and_stores_everything(source, caplog):
    """PostgreSQL breaks a deadlock by failing one transaction; a request whose transaction it
    chose is tried again from the start instead of answering 503."""
    first = lead_make(email="first@example.com")
    second = lead_make(email="second@example.com")
    other_holds_second, other_wants_first = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def other():  # another writer that takes the two lead rows in the opposite order
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT 1 FROM leads_lead WHERE id = %s FOR UPDATE", [second.pk])
                other_holds_second.set()
                wait_for(lambda: _blocked_backends() >= 1, timeout=30)  # the request waits
                other_wants_first.set()
                cursor.execute("SELECT 1 FROM leads_lead WHERE id = %s FOR UPDATE", [first.pk])
        except BaseException as exc:  # noqa: BLE001 (the thread hands it to the test)
            errors.append(exc)
        finally:
            connection.close()

    messages = [
        message_parse(
            {"type": "track", "event": "Email Opened", "userId": email, "messageId": f"dl-{i}"},
            index=i,
            received_at=timezone.now(),
        )
        for i, email in enumerate(("first@example.com", "second@example.com"))
    ]
    thread = threading.Thread(target=other)
    thread.start()
    other_holds_second.wait(30)
    with caplog.at_level("INFO", logger="mqlapp.leads.ingest.services"):
        outcome = events_ingest(messages, source=source)  # locks first, then waits on second
    thread.join(30)

    assert other_wants_first.is_set()
    assert errors == []
    assert "broken by a deadlock; trying again" in caplog.text
    assert outcome.lead_ids == {first.pk, second.pk}
    assert sorted(Event.objects.values_list("message_id", flat=True)) == ["dl-0", "dl-1"]
