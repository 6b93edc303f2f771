"""The lead page shows the whole profile, stage badges in words, each event's details (as
text, whatever a page sent) and which events came before identification; /visitors/ lists
the visitors not identified yet, for every role that reads leads (SPEC §2, §7)."""

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from handoff.services import mql_qualify, queue_action
from mqlapp.leads.models import Consent, Event, Source
from mqlapp.leads.selectors import visitors_events, visitors_list
from scoring.selectors import events_engagement
from scoring.services import rule_create
from tests.conftest import signed_in
from tests.factories import lead_make

pytestmark = pytest.mark.django_db
HOSTILE = "<img src=x onerror=alert(1)>"


def _event(lead=None, *, anon="", user_id="", type="track", name="", props=None, context=None,
           campaign=None, at):  # fmt: skip
    return Event.objects.create(
        message_id=str(uuid.uuid4()), lead=lead, anonymous_id=anon, user_id=user_id, type=type,
        name=name, properties=props or {}, context=context or {}, campaign=campaign or {},
        timestamp=at, received_at=at,
    )  # fmt: skip


@pytest.fixture
def lead_with_story(make_user):
    now = timezone.now()
    source = Source.objects.create(name="Corporate website")
    lead = lead_make(
        email="tanaka@example.co.jp", first_name="太郎", last_name="田中", company="サクラ製作所",
        department="情報システム部", title="部長", phone="03-1234-5678", employees=850,
        country="JP", industry="製造", source=source,
    )  # fmt: skip
    _event(lead, anon="a-1", type="page", at=now - timedelta(days=3),
           props={"url": "https://example.co.jp/pricing", "title": HOSTILE})  # fmt: skip
    _event(lead, anon="a-1", user_id="tanaka@example.co.jp", type="identify",
           at=now - timedelta(days=2))  # fmt: skip
    _event(lead, anon="a-1", name="Document Downloaded", at=now - timedelta(days=1),
           props={"title": "DX推進ガイド"},
           campaign={"name": "spring", "medium": "email"})  # fmt: skip
    _event(lead, anon="a-1", name="Email Link Clicked", at=now - timedelta(hours=5),
           props={"subject": "春のセミナーのご案内",
                  "link_url": "javascript:alert(2)"})  # fmt: skip
    _event(lead, anon="a-1", name="Trade Show Visited", at=now - timedelta(hours=4),
           props={"name": "東京展示会"})  # fmt: skip
    Consent.objects.create(lead_id=lead.pk, text="I agree", version=3, given_at=now)
    assert mql_qualify(lead.pk, score=Decimal(120), reason="threshold", now=now)
    rep = make_user("sales", username="sato")
    queue_action(lead.pk, "reject", user=rep, data={"reason": "no_budget"})
    return lead


def test_the_lead_page_shows_the_whole_profile(make_user, lead_with_story):
    page = signed_in(make_user("marketer")).get(f"/leads/{lead_with_story.pk}/").content.decode()
    for shown in ("03-1234-5678", "850", ">JP<", "製造", "情報システム部", "Corporate website",
                  "wording version 3", "MQL date", "Consent", "Phone", "Employees"):  # fmt: skip
        assert shown in page, shown
    # the stage as a badge in words; the history's reason in words, never the code
    assert 'class="badge stage stage-disqualified"' in page
    assert ">Disqualified<" in page
    assert "No budget" in page
    assert "no_budget" not in page.replace('value="no_budget"', "")


def test_the_timeline_shows_each_events_details_as_text(make_user, lead_with_story):
    page = signed_in(make_user("sales")).get(f"/leads/{lead_with_story.pk}/").content.decode()
    assert HOSTILE not in page  # the hostile page title is escaped ...
    assert "&lt;img src=x onerror=alert(1)&gt;" in page  # ... and shown as text
    assert 'href="https://example.co.jp/pricing"' in page  # an http(s) page URL is a link
    assert 'href="javascript:' not in page  # any other scheme is text only
    details = ("Page title", "DX推進ガイド", "spring (email)", "春のセミナーのご案内", "東京展示会")
    for detail in details:
        assert detail in page, detail
    # the page view came before the identify: marked as an anonymous visit; later ones not
    assert page.count("Before identification (anonymous visit)") == 1


def test_the_lead_page_in_japanese(make_user, lead_with_story):
    client = signed_in(make_user("admin"), language="ja")
    page = client.get(f"/leads/{lead_with_story.pk}/").content.decode()
    for shown in ("電話番号", "従業員数", "業種", "MQL化日時", "同意", "本人特定前（匿名の訪問）",
                  "ページ閲覧", "資料", "メール件名"):  # fmt: skip
        assert shown in page, shown


@pytest.fixture
def visitors():
    """Two visitors not identified (a, b) and one whose events belong to a lead."""
    now = timezone.now()
    lead = lead_make(email="known@example.co.jp")
    _event(lead, anon="known", type="page", at=now, props={"url": "https://example.co.jp/"})
    for k in range(3):
        _event(anon="visitor-a", type="page", at=now - timedelta(hours=10 + k),
               props={"url": "https://example.co.jp/pricing", "title": "料金"})  # fmt: skip
    _event(anon="visitor-a", name="Document Downloaded", at=now - timedelta(hours=9),
           props={"title": "DX推進ガイド"})  # fmt: skip
    _event(anon="visitor-b", type="page", at=now - timedelta(hours=1),
           props={"url": "https://example.co.jp/", "title": HOSTILE})  # fmt: skip
    _event(user_id="someone@example.com", name="Signed Up", at=now)  # no anonymousId: not listed
    return now


def test_the_visitors_selector_lists_anonymous_ids_without_a_lead(visitors):
    rows = list(visitors_list())
    assert [(r["anonymous_id"], r["events"], r["pages"]) for r in rows] == [
        ("visitor-b", 1, 1),  # seen last: first
        ("visitor-a", 4, 3),
    ]
    assert rows[1]["first_seen"] == visitors - timedelta(hours=12)
    assert rows[1]["last_seen"] == visitors - timedelta(hours=9)
    events = visitors_events(["visitor-a"], per_visitor=2)
    assert [e.name or e.type for e in events["visitor-a"]] == ["Document Downloaded", "page"]


def test_a_visitors_engagement_is_what_the_live_behaviour_rules_give(visitors):
    rule_create(data={"name": "Pricing", "kind": "behavior", "event": "page", "points": 5,
                      "conditions": [{"field": "properties.url", "op": "contains",
                                      "value": "pricing"}]})  # fmt: skip
    rule_create(data={"name": "Whitepaper", "kind": "behavior", "event": "Document Downloaded",
                      "points": 20})  # fmt: skip
    rule_create(data={"name": "Japan", "kind": "fit", "points": 30,
                      "conditions": [{"field": "country", "op": "eq", "value": "JP"}]})  # fmt: skip
    found = events_engagement(visitors_events(["visitor-a", "visitor-b"]), now=visitors)
    assert found == {"visitor-a": Decimal(35), "visitor-b": Decimal(0)}  # fit rules left out


@pytest.mark.parametrize("role", ["marketer", "sales", "admin"])
def test_every_role_that_reads_leads_sees_the_visitors(make_user, visitors, role):
    response = signed_in(make_user(role)).get("/visitors/")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'href="/visitors/"' in page  # in the navigation
    assert "visitor-a" in page
    assert "visitor-b" in page
    assert "known" not in page.replace("unknown", "")
    assert "DX推進ガイド" in page
    assert "/pricing" in page
    assert HOSTILE not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


def test_the_visitors_page_needs_a_role_and_a_sign_in(client, django_user_model, visitors):
    assert client.get("/visitors/").status_code == 302  # to the sign-in page
    nobody = django_user_model.objects.create_user(username="norole", password="x" * 20)
    assert signed_in(nobody).get("/visitors/").status_code == 403


def test_the_visitors_page_is_paginated(make_user):
    now = timezone.now()
    for i in range(27):
        _event(anon=f"v{i:02d}", type="page", at=now - timedelta(minutes=i))
    client = signed_in(make_user("marketer"))
    first = client.get("/visitors/").content.decode()
    second = client.get("/visitors/?page=2").content.decode()
    assert "27 visitors" in first
    assert ">v00<" in first
    assert ">v24<" in first
    assert ">v25<" not in first
    assert ">v25<" in second
    assert ">v26<" in second
    assert 'href="?page=2"' in first


def test_no_visitors_says_so(make_user):
    page = signed_in(make_user("sales"), language="ja").get("/visitors/").content.decode()
    assert "匿名訪問者はまだいません" in page
