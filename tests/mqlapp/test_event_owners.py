"""An event never names a lead (or source) that is gone, though the events table keeps no
foreign-key constraint (its per-row check cost more than the insert): the writers hold the
rows they name (event_store.event_owners_hold), and a request whose lead was merged away
while it resolved is resolved again."""

import threading

import pytest
from django.db import OperationalError, connection, transaction
from django.utils import timezone

from mqlapp.leads.event_store import EventOwnerGone, EventRow, events_insert
from mqlapp.leads.ingest import services as ingest_services
from mqlapp.leads.ingest.merge import lead_merge
from mqlapp.leads.ingest.messages import message_parse
from mqlapp.leads.ingest.services import events_ingest
from mqlapp.leads.models import Event, Identity, Lead
from mqlapp.leads.orphans import orphans_adopt
from tests.conftest import requires_postgres
from tests.holding import held_elsewhere


def _messages(*raws):
    now = timezone.now()
    return [message_parse(raw, index=i, received_at=now) for i, raw in enumerate(raws)]


def _identify(user_id, email):
    return {"type": "identify", "userId": user_id, "messageId": f"id-{user_id}",
            "traits": {"email": email}}  # fmt: skip


def _page(user_id, message_id):
    return {"type": "page", "userId": user_id, "messageId": message_id, "name": "Pricing"}


def _lead_of(user_id):
    return Identity.objects.get(kind="user", value=user_id).lead_id


@pytest.mark.django_db
def test_events_naming_a_lead_that_is_gone_are_refused_and_nothing_is_kept(source):
    events_ingest(_messages(_identify("gone", "gone@example.co.jp")), source=source)
    gone = _lead_of("gone")
    Lead.objects.filter(pk=gone).delete()
    row = EventRow(message_id="m-gone", type="page", timestamp=timezone.now(),
                   received_at=timezone.now(), lead_id=gone, source_id=source.pk)  # fmt: skip

    with pytest.raises(EventOwnerGone), transaction.atomic():
        events_insert([row])

    assert not Event.objects.filter(message_id="m-gone").exists()


@pytest.mark.django_db
def test_orphans_are_not_given_to_a_lead_that_is_gone(source):
    events_ingest(_messages({"type": "page", "anonymousId": "a-9", "messageId": "p-9"}),
                  source=source)  # fmt: skip
    events_ingest(_messages(_identify("gone", "gone@example.co.jp")), source=source)
    gone = _lead_of("gone")
    Lead.objects.filter(pk=gone).delete()

    with pytest.raises(EventOwnerGone), transaction.atomic():
        orphans_adopt(anonymous={"a-9": gone})

    assert Event.objects.get(message_id="p-9").lead_id is None


@requires_postgres  # PostgreSQL's row locks: SQLite takes writers one at a time
@pytest.mark.django_db(transaction=True)
def test_a_lead_with_uncommitted_events_cannot_be_deleted_until_they_commit(source):
    events_ingest(_messages(_identify("held", "held@example.co.jp"), _page("held", "p-now")),
                  source=source)  # fmt: skip
    held = _lead_of("held")
    earlier = {**_page("held", "p-held"), "timestamp": "2026-01-05T10:00:00Z"}

    def store():
        # An event older than the lead's last activity: the request writes nothing to the
        # lead's row, and only holding it keeps the lead from going away.
        events_ingest(_messages(earlier), source=source)

    with held_elsewhere(store), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '300ms'")
        with pytest.raises(OperationalError, match="lock timeout"):
            Lead.objects.filter(pk=held).delete()


@requires_postgres  # two connections at once
@pytest.mark.django_db(transaction=True)
def test_a_lead_merged_away_while_a_request_resolves_it_gets_the_event_on_the_survivor(
    source, monkeypatch
):
    events_ingest(_messages(_identify("keep", "keep@example.co.jp")), source=source)
    events_ingest(_messages(_identify("dup", "dup@example.co.jp")), source=source)
    keep, dup = _lead_of("keep"), _lead_of("dup")
    merged: list[tuple[int, int]] = []
    errors: list[BaseException] = []
    write = ingest_services.identities_write

    def merge_elsewhere() -> None:
        try:
            merged.append(lead_merge(keep, dup, reason="test"))
        except BaseException as exc:  # noqa: BLE001 (handed to the test)
            errors.append(exc)
        finally:
            connection.close()

    def identities_write(resolver):
        # The request has resolved "dup" to its lead; another connection merges that lead
        # away and commits before the request stores its event.
        if not merged:
            thread = threading.Thread(target=merge_elsewhere)
            thread.start()
            thread.join(30)
        write(resolver)

    monkeypatch.setattr(ingest_services, "identities_write", identities_write)
    events_ingest(_messages(_page("dup", "p-race")), source=source)

    assert errors == []
    assert merged == [(keep, dup)]
    assert not Lead.objects.filter(pk=dup).exists()
    assert list(Event.objects.filter(message_id="p-race").values_list("lead_id", flat=True)) == [
        keep
    ]
    assert not Event.objects.filter(lead_id=dup).exists()
