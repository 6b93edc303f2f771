"""An admin can undo a merge (docs/security.md): the merged-away lead comes back with its own
data, events, ids, consents and sales history, the survivor gives back what it took, and
both are re-scored. Each app moves its own rows back (the `lead_unmerged` hook)."""

import uuid
from decimal import Decimal

import pytest
from django.utils import timezone

from handoff.models import LeadView, Qualification, StageTransition
from handoff.services import mql_qualify, queue_action
from mqlapp.leads.models import Consent, Event, Identity, Lead, LeadMerge
from scoring.models import LeadScore
from tests.pipeline import leads_score_pending

pytestmark = pytest.mark.django_db


def _score_all():
    while leads_score_pending(limit=100):
        pass


def _send(ingest, path, body):
    response = ingest(path, {"messageId": str(uuid.uuid4()), **body})
    assert response.status_code == 200, response.content
    return response


@pytest.fixture
def visit_rule(db):
    """A page view is worth 5 points."""
    from scoring.services import rule_create

    return rule_create(data={"name": "Visit", "kind": "behavior", "event": "page", "points": 5})


@pytest.fixture
def merged(ingest, make_user, visit_rule):
    """Two leads, the second with page views, a consent and a sales cycle, merged by alias."""
    rep = make_user("sales")
    _send(ingest, "/v1/identify", {"userId": "old-id", "traits": {"email": "old@example.co.jp"}})
    traits = {"email": "new@example.co.jp", "company": "新社", "plan": "pro", "title": "部長"}
    _send(ingest, "/v1/identify", {"userId": "new-id", "anonymousId": "anon-n", "traits": traits})
    for path in ("/a", "/b"):
        _send(ingest, "/v1/page", {"anonymousId": "anon-n", "properties": {"path": path}})
    old, new = (
        Lead.objects.get(email="old@example.co.jp"),
        Lead.objects.get(email="new@example.co.jp"),
    )
    Consent.objects.create(lead=new, text="v1", version=1, given_at=timezone.now())
    assert mql_qualify(new.pk, score=Decimal(10), reason="threshold", now=timezone.now())
    queue_action(new.pk, "reject", user=rep, data={"reason": "no_budget", "note": "n"})
    # both in sales' hands: no preference, so the older lead survives
    assert mql_qualify(old.pk, score=Decimal(0), reason="fast_track", now=timezone.now())
    _score_all()
    before = {
        "events": set(Event.objects.filter(lead=new).values_list("pk", flat=True)),
        "identities": set(Identity.objects.filter(lead=new).values_list("pk", flat=True)),
        "transitions": StageTransition.objects.filter(lead_id=new.pk).count(),
        "score": LeadScore.objects.get(lead_id=new.pk).score,
    }
    alias = {"type": "alias", "previousId": "new-id", "userId": "old-id", "messageId": "al-1"}
    assert ingest("/v1/alias", alias).status_code == 200
    _score_all()
    assert not Lead.objects.filter(pk=new.pk).exists()
    old.refresh_from_db()
    assert (old.company, old.traits.get("plan")) == ("新社", "pro")
    return old, new, before, rep


def test_an_admin_undoes_a_merge(api, ingest, merged):
    old, new, before, _ = merged
    merge = LeadMerge.objects.get()

    # when
    response = api("admin").post(f"/api/leads/merges/{merge.pk}/undo/")
    _score_all()

    # then: the duplicate is back under its own id with its own data, rows and stage
    assert response.status_code == 200, response.content
    assert response.json()["undone_at"]
    restored = Lead.objects.get(pk=new.pk)
    assert (restored.email, restored.company, restored.title, restored.traits["plan"]) == (
        "new@example.co.jp",
        "新社",
        "部長",
        "pro",
    )
    assert set(Event.objects.filter(lead=restored).values_list("pk", flat=True)) == before["events"]
    assert (
        set(Identity.objects.filter(lead=restored).values_list("pk", flat=True))
        == before["identities"]
    )
    assert list(Consent.objects.filter(lead=restored).values_list("version", flat=True)) == [1]
    assert StageTransition.objects.filter(lead_id=new.pk).count() == before["transitions"]
    assert list(Qualification.objects.filter(lead_id=new.pk).values_list("merged_from")) == [
        (None,)
    ]
    view = LeadView.objects.get(pk=new.pk)
    assert (view.stage, view.score) == ("disqualified", before["score"])
    assert view.score == 10  # two page views, re-scored
    # the survivor gave back what it took, kept its own, and was re-scored
    old.refresh_from_db()
    assert (old.company, "plan" in old.traits) == ("", False)
    assert LeadView.objects.get(pk=old.pk).score == 0
    assert list(Qualification.objects.filter(lead_id=old.pk).values_list("merged_from")) == [
        (None,)
    ]
    assert LeadView.objects.get(pk=old.pk).stage == "mql"

    # the duplicate's browser is its own again, and a retry of the alias redoes nothing
    _send(ingest, "/v1/page", {"anonymousId": "anon-n"})
    assert Event.objects.filter(lead=restored, type="page").count() == 3
    alias = {"type": "alias", "previousId": "new-id", "userId": "old-id", "messageId": "al-1"}
    assert ingest("/v1/alias", alias).status_code == 200
    assert Lead.objects.filter(pk__in=[old.pk, new.pk]).count() == 2

    # listed as undone; a second undo is a readable 409
    listed = api("admin").get(f"/api/leads/merges/?lead={old.pk}").json()
    assert [(m["id"], m["merged_lead_id"], bool(m["undone_at"])) for m in listed] == [
        (merge.pk, new.pk, True)
    ]
    again = api("admin").post(f"/api/leads/merges/{merge.pk}/undo/")
    assert again.status_code == 409
    assert again.json()["code"] == "invalid_transition"
    assert "already undone" in again.json()["error"]


@pytest.mark.parametrize("role", ["marketer", "sales"])
def test_only_admins_undo_merges(api, merged, role):
    merge = LeadMerge.objects.get()
    assert api(role).post(f"/api/leads/merges/{merge.pk}/undo/").status_code == 403
    assert api(role).get("/api/leads/merges/").status_code == 403
    assert LeadMerge.objects.get().undone_at is None


def test_undo_of_an_unknown_merge_is_404_and_a_bad_filter_400(api, db):
    admin = api("admin")
    assert admin.post("/api/leads/merges/999999/undo/").status_code == 404
    bad = admin.get("/api/leads/merges/?lead=abc")
    assert bad.status_code == 400
    assert bad.json()["fields"] == {"lead": ["abc"]}


def test_an_erased_survivor_cannot_be_unmerged(api, merged):
    from mqlapp.leads.privacy import lead_erase

    old, *_ = merged
    lead_erase(old.pk, by=None)
    response = api("admin").post(f"/api/leads/merges/{LeadMerge.objects.get().pk}/undo/")
    assert response.status_code == 409
    assert "erased" in response.json()["error"]


def test_a_merge_recorded_before_undo_existed_is_refused(api, db):
    # a record without the moved rows (made before this change): an undo would lose events
    merge = LeadMerge.objects.create(
        merged_lead_id=424242, merged_data={"email": "x@example.co.jp"}, at=timezone.now()
    )
    response = api("admin").post(f"/api/leads/merges/{merge.pk}/undo/")
    assert response.status_code == 409
    assert "before merges could be undone" in response.json()["error"]
    assert not Lead.objects.filter(pk=424242).exists()
