"""Write keys that sit in web pages cannot destroy data (docs/security.md, "Write keys"):
browser keys versus server keys, rotation and origins, server-made message ids."""

import uuid

import pytest
from rest_framework.test import APIClient

from handoff.models import LeadView
from handoff.services import policy_update
from mqlapp.leads.models import Event, Form, Lead, LeadMerge
from mqlapp.leads.services import source_create
from tests.conftest import basic
from tests.pipeline import leads_score_pending

pytestmark = pytest.mark.django_db

ORIGIN = "https://www.example.co.jp"


def _post(key, path, body, **headers):
    return APIClient().post(path, body, format="json", HTTP_AUTHORIZATION=basic(key), **headers)


def _score_all():
    while leads_score_pending(limit=100):
        pass


@pytest.fixture
def browser():
    return source_create(name="Site tag", allowed_origins=[ORIGIN])


@pytest.fixture
def server():
    return source_create(name="CRM sync", allowed_origins=[])


def _identify(key, email, user_id, **traits):
    body = {
        "userId": user_id,
        "messageId": str(uuid.uuid4()),
        "traits": {"email": email, **traits},
    }
    response = _post(key, "/v1/identify", body)
    assert response.status_code == 200, response.content
    return Lead.objects.get(email=email)


# --- kinds --------------------------------------------------------------------------------


def test_the_kind_follows_the_origins_unless_given(api):
    admin = api("admin")
    page = admin.post("/api/sources/", {"name": "Tag", "allowed_origins": [ORIGIN]}, format="json")
    sdk = admin.post("/api/sources/", {"name": "SDK", "allowed_origins": []}, format="json")
    chosen = admin.post(
        "/api/sources/",
        {"name": "Intranet", "allowed_origins": [ORIGIN], "kind": "server"},
        format="json",
    )
    assert [r.status_code for r in (page, sdk, chosen)] == [201, 201, 201]
    assert [r.json()["kind"] for r in (page, sdk, chosen)] == ["browser", "server", "server"]
    bad = admin.post("/api/sources/", {"name": "X", "kind": "phone"}, format="json")
    assert bad.status_code == 400
    assert bad.json()["code"] == "invalid"
    assert "kind" in bad.json()["fields"]


def test_a_browser_key_cannot_merge_two_known_leads(browser, server):
    # given: two leads a server integration knows
    a = _identify(server.write_key, "a@example.co.jp", "crm-a", company="A社")
    b = _identify(server.write_key, "b@example.co.jp", "crm-b", company="B社")
    b_events = Event.objects.filter(lead=b).count()

    # when: someone with the page's key says they are one person
    alias = {"type": "alias", "previousId": "crm-b", "userId": "crm-a", "messageId": "evil-1"}
    page_view = {"type": "page", "anonymousId": "v-1", "messageId": "pv-1"}
    response = _post(browser.write_key, "/v1/batch", {"batch": [page_view, alias]})
    single = _post(browser.write_key, "/v1/alias", {**alias, "messageId": "evil-2"})

    # then: refused by name, nothing merged, the rest of the batch stored
    assert response.status_code == 200
    assert response.json()["rejected"] == [
        {
            "index": 1,
            "error": "a browser write key cannot merge two known leads: "
            "send this alias with a server key",
        }
    ]
    assert single.status_code == 400
    assert "cannot merge two known leads" in single.json()["error"]
    assert sorted(Lead.objects.values_list("pk", flat=True)) == sorted([a.pk, b.pk])
    assert Event.objects.filter(lead=b).count() == b_events
    assert not LeadMerge.objects.exists()
    assert not Event.objects.filter(message_id__in=["evil-1", "evil-2"]).exists()
    assert Event.objects.filter(message_id="pv-1").exists()

    # and the refused message's id is not used up: the same alias sent as it should be (with
    # the server key) is taken, not dropped as a replay
    again = _post(server.write_key, "/v1/alias", alias)
    assert again.status_code == 200, again.content
    assert Event.objects.filter(message_id="evil-1").count() == 1
    assert LeadMerge.objects.count() == 1


def test_a_browser_alias_kept_unknown_never_merges_later(browser, server):
    # given: a browser alias between two ids nobody knows yet (kept, as Segment does)
    alias = {"type": "alias", "previousId": "anon-p", "userId": "crm-q"}
    assert _post(browser.write_key, "/v1/alias", alias).status_code == 200
    # when: one server batch makes each id a different lead
    batch = [
        {"type": "identify", "userId": "crm-q", "traits": {"email": "q@example.co.jp"}},
        {"type": "identify", "anonymousId": "anon-p", "traits": {"email": "p@example.co.jp"}},
    ]
    assert _post(server.write_key, "/v1/batch", {"batch": batch}).status_code == 200
    # then: the stored browser alias merged nothing
    assert sorted(Lead.objects.values_list("email", flat=True)) == [
        "p@example.co.jp",
        "q@example.co.jp",
    ]
    assert not LeadMerge.objects.exists()


def test_a_server_alias_kept_unknown_merges_later(server):
    # the same story with a server key: Segment's semantics, one lead
    alias = {"type": "alias", "previousId": "anon-p", "userId": "crm-q"}
    assert _post(server.write_key, "/v1/alias", alias).status_code == 200
    batch = [
        {"type": "identify", "userId": "crm-q", "traits": {"email": "q@example.co.jp"}},
        {"type": "identify", "anonymousId": "anon-p", "traits": {"email": "p@example.co.jp"}},
    ]
    assert _post(server.write_key, "/v1/batch", {"batch": batch}).status_code == 200
    assert Lead.objects.count() == 1
    assert LeadMerge.objects.count() == 1


def test_a_browser_alias_still_links_a_new_id_to_a_known_lead(browser, server):
    lead = _identify(server.write_key, "k@example.co.jp", "crm-k")
    alias = {"type": "alias", "previousId": "anon-77", "userId": "crm-k"}
    assert _post(browser.write_key, "/v1/alias", alias).status_code == 200
    assert _post(browser.write_key, "/v1/page", {"anonymousId": "anon-77"}).status_code == 200
    assert Event.objects.filter(anonymous_id="anon-77", type="page").get().lead_id == lead.pk


def test_a_browser_identify_fills_blanks_and_never_overwrites(browser, server):
    lead = _identify(server.write_key, "c@example.co.jp", "crm-c", company="本物", lastName="山田")
    body = {
        "userId": "crm-c",
        "traits": {"email": "c@example.co.jp", "company": "偽物", "lastName": "X", "title": "部長"},
    }
    assert _post(browser.write_key, "/v1/identify", body).status_code == 200
    group = {"userId": "crm-c", "groupId": "g1", "traits": {"name": "偽物2"}}
    assert _post(browser.write_key, "/v1/group", group).status_code == 200
    lead.refresh_from_db()
    assert (lead.company, lead.last_name, lead.title) == ("本物", "山田", "部長")
    # a server key keeps Segment's semantics: it overwrites
    _identify(server.write_key, "c@example.co.jp", "crm-c", company="新社名")
    lead.refresh_from_db()
    assert lead.company == "新社名"


def _demo(key, **ids):
    body = {"event": "Demo Requested", "messageId": str(uuid.uuid4()), **ids}
    response = _post(key, "/v1/track", body)
    assert response.status_code == 200, response.content


@pytest.fixture
def fast_track(db):
    policy_update(data={"mql_threshold": 1000, "fast_track_events": ["Demo Requested"]})


def test_a_browser_key_cannot_fast_track_a_lead_named_by_email(browser, server, fast_track):
    # given: a nurtured lead
    victim = _identify(server.write_key, "victim@example.co.jp", "crm-v")
    # when: the page's key sends a hand-raise naming the lead only by email or user id
    _demo(browser.write_key, userId="victim@example.co.jp")
    _demo(browser.write_key, userId="crm-v")
    _demo(browser.write_key, anonymousId="a-stranger", context={"traits": {"email": victim.email}})
    # ... or first ties their own browser to the lead with an identify, then asks
    claim = {"anonymousId": "attacker", "traits": {"email": victim.email}}
    assert _post(browser.write_key, "/v1/identify", claim).status_code == 200
    _demo(browser.write_key, anonymousId="attacker")
    _score_all()
    # then: the events are kept and scored, but no hand was raised
    assert Event.objects.filter(lead=victim, name="Demo Requested").count() == 4
    assert LeadView.objects.get(pk=victim.pk).stage == "nurturing"


def test_a_visitor_identified_in_their_browser_still_fast_tracks(browser, fast_track):
    # given: a visitor who identified in their own browser (the tag's identify)
    ids = {"anonymousId": "aid-1", "userId": "me@example.co.jp"}
    identify = {**ids, "traits": {"email": "me@example.co.jp"}}
    assert _post(browser.write_key, "/v1/identify", identify).status_code == 200
    # when: the same browser requests a demo
    _demo(browser.write_key, anonymousId="aid-1")
    _score_all()
    assert LeadView.objects.get(email="me@example.co.jp").stage == "mql"


def test_a_server_key_fast_tracks_by_email(server, fast_track):
    _identify(server.write_key, "s@example.co.jp", "crm-s")
    _demo(server.write_key, userId="s@example.co.jp")
    _score_all()
    assert LeadView.objects.get(email="s@example.co.jp").stage == "mql"


def test_a_form_on_a_browser_source_still_fast_tracks(browser, db):
    # a landing-page form is made by the app (server-made ids), whatever its source's kind
    policy_update(data={"mql_threshold": 1000, "fast_track_events": ["Form Submitted"]})
    Form.objects.create(name="Demo", slug="demo", source=browser, required_fields=["email"])
    response = APIClient().post("/f/demo/", {"email": "f@example.co.jp"})
    assert response.status_code in (302, 303), response.content
    _score_all()
    assert LeadView.objects.get(email="f@example.co.jp").stage == "mql"


# --- rotation and origins -------------------------------------------------------------------


def test_a_rotated_key_is_refused_and_the_new_one_works(api, browser):
    admin = api("admin")
    old = browser.write_key
    response = admin.post(f"/api/sources/{browser.pk}/rotate/")
    assert response.status_code == 200
    new = response.json()["write_key"]
    assert new != old
    assert response.json()["key_rotated_at"]
    page = {"anonymousId": "v", "messageId": str(uuid.uuid4())}
    refused = _post(old, "/v1/page", page)
    assert refused.status_code == 401
    assert refused.json()["code"] == "unauthorized"
    assert _post(new, "/v1/page", page).status_code == 200


def test_patch_changes_name_origins_and_active(api, browser):
    admin = api("admin")
    response = admin.patch(
        f"/api/sources/{browser.pk}/",
        {"name": "New site", "allowed_origins": ["https://new.example.co.jp/"]},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert (response.json()["name"], response.json()["allowed_origins"]) == (
        "New site",
        ["https://new.example.co.jp"],
    )
    page = {"anonymousId": "v", "messageId": str(uuid.uuid4())}
    old_origin = _post(browser.write_key, "/v1/page", page, HTTP_ORIGIN=ORIGIN)
    assert old_origin.status_code == 403
    new_origin = {"HTTP_ORIGIN": "https://new.example.co.jp"}
    assert _post(browser.write_key, "/v1/page", page, **new_origin).status_code == 200
    # inactive: refused
    assert admin.patch(f"/api/sources/{browser.pk}/", {"active": False}).status_code == 200
    assert _post(browser.write_key, "/v1/page", page).status_code == 401
    # bad origins: a readable 400
    bad = admin.patch(
        f"/api/sources/{browser.pk}/", {"allowed_origins": ["javascript:alert(1)"]}, format="json"
    )
    assert bad.status_code == 400
    assert "allowed_origins" in bad.json()["fields"]


def test_a_browser_key_made_a_server_key_gets_a_new_key(api, browser):
    response = api("admin").patch(f"/api/sources/{browser.pk}/", {"kind": "server"})
    assert response.status_code == 200
    assert response.json()["kind"] == "server"
    assert response.json()["write_key"] != browser.write_key
    assert _post(browser.write_key, "/v1/page", {"anonymousId": "v"}).status_code == 401


@pytest.mark.parametrize("role", ["marketer", "sales"])
def test_only_admins_change_or_rotate_sources(api, browser, role):
    client = api(role)
    assert client.patch(f"/api/sources/{browser.pk}/", {"name": "x"}).status_code == 403
    assert client.post(f"/api/sources/{browser.pk}/rotate/").status_code == 403
    assert APIClient().post(f"/api/sources/{browser.pk}/rotate/").status_code == 401
    browser.refresh_from_db()
    assert browser.name == "Site tag"


def test_unknown_source_is_404(api):
    assert api("admin").post("/api/sources/999999/rotate/").status_code == 404


# --- server-made message ids ------------------------------------------------------------------


def test_clients_cannot_send_server_made_ids(server):
    taken = {"type": "page", "anonymousId": "v", "messageId": "mql-form-0123"}
    fine = {"type": "page", "anonymousId": "v", "messageId": "ok-1"}
    response = _post(server.write_key, "/v1/batch", {"batch": [taken, fine]})
    assert response.status_code == 200
    assert response.json()["rejected"][0]["index"] == 0
    assert "made by mqlapp itself" in response.json()["rejected"][0]["error"]
    single = _post(server.write_key, "/v1/page", {**taken, "messageId": "MQL-form-x"})
    assert single.status_code == 400
    assert list(Event.objects.values_list("message_id", flat=True)) == ["ok-1"]


def test_a_client_cannot_pre_empt_a_form_submission(server, db):
    # given: someone who knows the old recipe sends its ids first (any guess is refused or
    # lands in the clients' namespace)
    import hashlib
    import time

    form = Form.objects.create(name="DL", slug="dl", required_fields=["email"])
    email = "p@example.co.jp"
    minute = int(time.time()) // 60
    guesses = []
    for m in (minute, minute + 1):
        key = hashlib.sha256(f"{form.pk}:{email}:{m}".encode()).hexdigest()
        guesses += [f"form-{key[:32]}", f"form-{key[:32]}-identify"]
    batch = [
        {"type": "track", "event": "Noise", "anonymousId": "z", "messageId": g} for g in guesses
    ]
    assert _post(server.write_key, "/v1/batch", {"batch": batch}).status_code == 200

    # when: the person submits the form (twice: a double click)
    for _ in range(2):
        response = APIClient().post("/f/dl/", {"email": email})
        assert response.status_code in (302, 303)

    # then: their Form Submitted is stored, once, under a server-made id
    submitted = Event.objects.filter(name="Form Submitted")
    assert submitted.count() == 1
    assert submitted.get().message_id.startswith("mql-form-")
    assert submitted.get().lead.email == email


def test_a_browser_key_cannot_take_a_user_id_from_its_lead(browser, server):
    # given: a lead the back end knows by its CRM id, and one known by email only
    a = _identify(server.write_key, "a@example.co.jp", "crm-a")
    b = _identify(server.write_key, "b@example.co.jp", "b@example.co.jp")
    # when: the page's key says those ids belong to someone else
    for n, user_id in enumerate(("crm-a", "b@example.co.jp")):
        body = {"userId": user_id, "traits": {"email": f"evil-{n}@example.co.jp"}}
        assert _post(browser.write_key, "/v1/identify", body).status_code == 200
    # then: the back end's later events still reach the right leads
    for user_id in ("crm-a", "b@example.co.jp"):
        body = {"userId": user_id, "event": "Order Placed", "messageId": f"o-{user_id}"}
        assert _post(server.write_key, "/v1/track", body).status_code == 200
    assert Event.objects.get(message_id="o-crm-a").lead_id == a.pk
    assert Event.objects.get(message_id="o-b@example.co.jp").lead_id == b.pk
