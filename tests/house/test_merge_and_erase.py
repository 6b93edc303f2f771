"""Merge and erasure reach every app's rows: the core calls each app's hook, each app moves or
erases its own rows (docs/architecture.md). A merge keeps both leads' consents and sales
history; an erasure scrubs the person from the core's, scoring's and handoff's rows."""

import uuid
from decimal import Decimal

import pytest
from django.utils import timezone

from handoff.models import (
    Assignment,
    LeadLifecycle,
    LeadView,
    Qualification,
    StageTransition,
)
from handoff.services import mql_qualify, queue_action
from mqlapp.leads.models import Consent, Lead, LeadMerge
from mqlapp.leads.privacy import lead_erase
from scoring.models import LeadScore

pytestmark = pytest.mark.django_db


def _identify(ingest, email, user_id):
    body = {
        "type": "identify",
        "userId": user_id,
        "messageId": str(uuid.uuid4()),
        "traits": {"email": email},
    }
    assert ingest("/v1/identify", body).status_code == 200
    return Lead.objects.get(email=email)


def _sales_history(lead, rep, *, note):
    """Qualified (assigned to `rep`), then rejected by the rep with a note."""
    assert mql_qualify(lead.pk, score=Decimal(80), reason="threshold", now=timezone.now())
    queue_action(lead.pk, "reject", user=rep, data={"reason": "no_budget", "note": note})


def test_a_merge_keeps_both_leads_consents_and_sales_history(ingest, make_user):
    # given: two leads, each with a consent and a cycle of sales history
    rep = make_user("sales")
    old = _identify(ingest, "old@example.co.jp", "old-id")
    new = _identify(ingest, "new@example.co.jp", "new-id")
    for lead, version in ((old, 1), (new, 2)):
        Consent.objects.create(
            lead=lead, text=f"wording v{version}", version=version, given_at=timezone.now()
        )
        _sales_history(lead, rep, note=f"note about {lead.email}")
    before = {
        model: model.objects.filter(lead_id__in=[old.pk, new.pk]).count()
        for model in (Consent, StageTransition, Qualification, Assignment)
    }

    # when: an alias says they are one person
    alias = {"type": "alias", "previousId": "new-id", "userId": "old-id", "messageId": "al-9"}
    assert ingest("/v1/alias", alias).status_code == 200

    # then: one lead, holding every consent and every row of both sales histories
    survivor = Lead.objects.get()
    assert survivor.pk == old.pk
    after = {
        model: model.objects.filter(lead_id=survivor.pk).count()
        for model in (Consent, StageTransition, Qualification, Assignment)
    }
    assert after == before == {Consent: 2, StageTransition: 4, Qualification: 2, Assignment: 2}
    assert sorted(Consent.objects.values_list("version", flat=True)) == [1, 2]
    assert sorted(Qualification.objects.values_list("merged_from", flat=True), key=str) == sorted(
        [None, new.pk], key=str
    )
    # each app keeps one row per lead: the duplicate's score and lifecycle rows went with it
    assert list(LeadScore.objects.values_list("lead_id", flat=True)) == [survivor.pk]
    assert list(LeadLifecycle.objects.values_list("lead_id", flat=True)) == [survivor.pk]
    assert LeadView.objects.get().stage == "disqualified"
    record = LeadMerge.objects.get()
    assert (record.merged_lead_id, record.merged_email) == (new.pk, "new@example.co.jp")
    assert record.merged_data["stage"] == "disqualified"
    assert record.merged_data["owner"] == rep.pk


def test_a_lead_sales_works_survives_a_merge_with_its_stage(ingest, make_user):
    rep = make_user("sales")
    old = _identify(ingest, "nurtured@example.co.jp", "n-id")
    new = _identify(ingest, "handed@example.co.jp", "h-id")
    assert mql_qualify(new.pk, score=Decimal(80), reason="threshold", now=timezone.now())

    alias = {"type": "alias", "previousId": "n-id", "userId": "h-id", "messageId": "al-10"}
    assert ingest("/v1/alias", alias).status_code == 200

    survivor = LeadView.objects.get()
    assert (survivor.pk, survivor.stage, survivor.owner_id) == (new.pk, "mql", rep.pk)
    assert LeadMerge.objects.get().merged_lead_id == old.pk


def test_an_erasure_reaches_the_rows_of_every_app(ingest, make_user):
    rep = make_user("sales")
    lead = _identify(ingest, "erase@example.co.jp", "e-id")
    Consent.objects.create(
        lead=lead, text="wording", version=1, given_at=timezone.now(), ip="203.0.113.9"
    )
    _sales_history(lead, rep, note="call 090-1234-5678, ask for Mr. Erase")

    erasure, new = lead_erase(lead.pk, by=None)

    assert new
    lead.refresh_from_db()
    assert (lead.email, lead.traits) == ("", {})
    assert Consent.objects.get().ip is None  # the core's rows
    assert set(StageTransition.objects.values_list("note", flat=True)) == {""}  # handoff's
    assert erasure.counts["notes_blanked"] == 1
    # reports still count the lead: its stage and score rows stay
    assert LeadView.objects.get(pk=lead.pk).stage == "disqualified"
