"""Who may see and act (SPEC §2): a signed-in user without a role sees no lead page, and a lead
an admin accepted from the shared pool is the admin's, not any sales rep's to work."""

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from handoff.models import LeadView
from handoff.services import mql_qualify, policy_update
from tests.conftest import client_for, signed_in
from tests.factories import lead_make

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("page", ["/", "/leads/", "/lead"])
def test_a_user_without_a_role_gets_403_on_every_lead_page(page):
    lead = lead_make(email="secret@example.co.jp")
    nobody = get_user_model().objects.create_user("nobody", password="a-long-test-password")
    path = f"/leads/{lead.pk}/" if page == "/lead" else page
    answer = signed_in(nobody).get(path)
    assert answer.status_code == 403
    assert b"secret@example.co.jp" not in answer.content


def test_an_mql_an_admin_accepted_while_unassigned_is_the_admins_not_any_reps(make_user):
    policy_update(data={"assignment": "manual"})
    rep, admin = make_user("sales"), make_user("admin")
    lead = lead_make(email="pool@example.co.jp")
    assert mql_qualify(lead.pk, score=Decimal(90), reason="threshold", now=timezone.now())
    assert client_for(admin).post(f"/api/handoff/leads/{lead.pk}/accept/").status_code == 200
    accepted = LeadView.objects.get(pk=lead.pk)
    assert (accepted.stage, accepted.owner_id) == ("sal", admin.pk)

    refused = client_for(rep).post(f"/api/handoff/leads/{lead.pk}/qualify/")

    assert refused.status_code == 403
    assert refused.json()["code"] == "permission_denied"
    assert LeadView.objects.get(pk=lead.pk).stage == "sal"


def test_a_rep_still_takes_an_unassigned_mql_from_the_pool(make_user):
    policy_update(data={"assignment": "manual"})
    rep = make_user("sales")
    lead = lead_make(email="take@example.co.jp")
    assert mql_qualify(lead.pk, score=Decimal(90), reason="threshold", now=timezone.now())

    assert client_for(rep).post(f"/api/handoff/leads/{lead.pk}/accept/").status_code == 200
    assert LeadView.objects.get(pk=lead.pk).owner_id == rep.pk
