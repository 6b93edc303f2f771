"""Console: a source's origins, kind and key are edited and rotated on /sources/ (SPEC §2);
an admin sees a lead's merges on its page and can undo one (docs/security.md)."""

import uuid

import pytest
from rest_framework.test import APIClient

from mqlapp.leads.models import Lead, LeadMerge, Source
from mqlapp.leads.services import source_create
from tests.conftest import basic, signed_in

pytestmark = pytest.mark.django_db


def test_admin_edits_origins_and_rotates_the_key(make_user):
    client = signed_in(make_user("admin"))
    source = source_create(name="Site", allowed_origins=["https://a.example"])
    page = client.get("/sources/").content.decode()
    assert "Browser key" in page or "ブラウザ" in page
    assert f'action="/sources/{source.pk}/rotate/"' in page
    assert "onclick" not in page  # no inline handlers (CSP without unsafe-inline)

    response = client.post(
        f"/sources/{source.pk}/",
        {
            "name": "Site 2",
            "allowed_origins": "https://b.example/\nhttps://c.example",
            "kind": "browser",
            "active": "1",
        },
    )
    assert response.status_code == 302
    source.refresh_from_db()
    assert (source.name, source.allowed_origins, source.kind, source.active) == (
        "Site 2",
        ["https://b.example", "https://c.example"],
        "browser",
        True,
    )
    # a bad origin is refused with a message, nothing changed
    bad = {"name": "X", "allowed_origins": "ftp://x", "active": "1"}
    client.post(f"/sources/{source.pk}/", bad)
    source.refresh_from_db()
    assert source.name == "Site 2"

    old = source.write_key
    assert client.post(f"/sources/{source.pk}/rotate/").status_code == 302
    source.refresh_from_db()
    assert source.write_key != old
    assert source.write_key in client.get("/sources/").content.decode()
    refused = APIClient().post(
        "/v1/page", {"anonymousId": "v"}, format="json", HTTP_AUTHORIZATION=basic(old)
    )
    assert refused.status_code == 401


@pytest.mark.parametrize("role", ["marketer", "sales"])
def test_only_admins_edit_or_rotate_on_the_page(make_user, role):
    client = signed_in(make_user(role))
    source = source_create(name="Site", allowed_origins=[])
    assert client.post(f"/sources/{source.pk}/rotate/").status_code == 403
    assert client.post(f"/sources/{source.pk}/", {"name": "x"}).status_code == 403
    assert Source.objects.get().write_key == source.write_key


def _merged(ingest):
    for email, user_id in (("a@example.co.jp", "a-id"), ("b@example.co.jp", "b-id")):
        body = {"userId": user_id, "messageId": str(uuid.uuid4()), "traits": {"email": email}}
        assert ingest("/v1/identify", body).status_code == 200
    alias = {"previousId": "b-id", "userId": "a-id", "messageId": "al-page"}
    assert ingest("/v1/alias", alias).status_code == 200
    return LeadMerge.objects.get()


def test_an_admin_undoes_a_merge_from_the_lead_page(make_user, ingest):
    merge = _merged(ingest)
    admin = signed_in(make_user("admin"))
    page = admin.get(f"/leads/{merge.into_id}/").content.decode()
    assert "b@example.co.jp" in page
    assert f'action="/merges/{merge.pk}/undo/"' in page

    response = admin.post(f"/merges/{merge.pk}/undo/")

    assert response.status_code == 302
    assert response["Location"] == f"/leads/{merge.merged_lead_id}/"
    assert Lead.objects.get(pk=merge.merged_lead_id).email == "b@example.co.jp"
    assert (
        f'action="/merges/{merge.pk}/undo/"'
        not in admin.get(f"/leads/{merge.into_id}/").content.decode()
    )


def test_sales_sees_no_merges_and_cannot_undo(make_user, ingest):
    merge = _merged(ingest)
    rep = signed_in(make_user("sales"))
    assert "/undo/" not in rep.get(f"/leads/{merge.into_id}/").content.decode()
    assert rep.post(f"/merges/{merge.pk}/undo/").status_code == 403
    assert LeadMerge.objects.get().undone_at is None
