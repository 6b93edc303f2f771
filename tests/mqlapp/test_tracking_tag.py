"""The tracking tag mql.js: served as JavaScript, and in Chromium on another site's page."""

import json
import time

import pytest
from django.test import Client

from handoff.models import LeadView
from mqlapp.leads.models import Event, Form, Identity
from mqlapp.leads.services import source_create
from tests.conftest import wait_for
from tests.mqlapp.conftest import requires_chromium

UTM = "utm_source=newsletter&utm_medium=email&utm_campaign=spring"

# --- over HTTP --------------------------------------------------------------------------------


def test_the_tag_is_served_as_javascript():
    response = Client().get("/static/mqlapp/mql.js")
    assert response.status_code == 200
    assert response["Content-Type"].split(";")[0] in ("text/javascript", "application/javascript")
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert b"data-write-key" in body
    assert len(body) < 12_000  # small, no dependencies, no build step


@pytest.mark.django_db
def test_a_text_plain_body_with_the_write_key_inside_is_accepted(source):
    """What the tag sends: a "simple" CORS request, so browsers need no preflight."""
    body = {"writeKey": source.write_key, "batch": [{"type": "page", "anonymousId": "a"}]}
    response = Client().post(
        "/v1/batch",
        json.dumps(body),
        content_type="text/plain",
        HTTP_ORIGIN="https://www.example.co.jp",
    )
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "https://www.example.co.jp"
    assert Event.objects.get().type == "page"


@pytest.mark.django_db
def test_preflight_is_answered_only_for_allowed_origins(source):
    allowed = Client().options("/v1/batch", HTTP_ORIGIN="https://www.example.co.jp")
    refused = Client().options("/v1/batch", HTTP_ORIGIN="https://evil.example")
    assert allowed.status_code == refused.status_code == 204
    assert allowed["Access-Control-Allow-Origin"] == "https://www.example.co.jp"
    assert "POST" in allowed["Access-Control-Allow-Methods"]
    assert "Access-Control-Allow-Origin" not in refused


# --- in a browser ---------------------------------------------------------------------------


def _page_html(app, key, *, title="製品ページ", body="", queued=""):
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>
<script>window.mql = window.mql || []; {queued}</script>
<script async src="{app}/static/mqlapp/mql.js" data-write-key="{key}"></script>
</head><body>{body}</body></html>"""


def _batch_answer(page, action):
    with page.expect_response(lambda r: r.url.endswith("/v1/batch")) as info:
        action()
    return info.value


@pytest.mark.browser
@requires_chromium
@pytest.mark.django_db(transaction=True)
def test_tag_sends_page_views_queued_calls_and_identify(
    chromium_page, live_server, site, visit_rule
):
    source = source_create(name="Corporate site", allowed_origins=[site.origin])
    page = chromium_page
    queued = 'mql.push(["track", "Queued Before Load", {"plan": "pro"}]);'
    product = site.page(
        "product.html", _page_html(live_server.url, source.write_key, queued=queued)
    )
    index = site.page(
        "index.html",
        f'<meta charset="utf-8"><a href="{product}?{UTM}">製品</a>',
    )

    page.goto(index)
    answer = _batch_answer(page, lambda: page.get_by_role("link", name="製品").click())

    assert answer.status == 200
    assert answer.headers["access-control-allow-origin"] == site.origin
    wait_for(lambda: Event.objects.count() == 2)
    view = Event.objects.get(type="page")
    cookie = next(c for c in page.context.cookies(site.origin) if c["name"] == "mql_aid")
    assert view.anonymous_id == cookie["value"]
    assert cookie["expires"] > time.time() + 364 * 86400  # a year
    assert view.properties["path"] == "/product.html"
    assert view.properties["url"].startswith(product)
    assert view.properties["title"] == "製品ページ"
    assert view.properties["referrer"] == index
    assert view.campaign == {"source": "newsletter", "medium": "email", "name": "spring"}
    assert view.context["library"]["name"] == "mql.js"
    queued_call = Event.objects.get(type="track")
    assert (queued_call.name, queued_call.properties) == ("Queued Before Load", {"plan": "pro"})
    assert queued_call.anonymous_id == cookie["value"]

    _batch_answer(
        page,
        lambda: page.evaluate(
            "mql.identify('crm-77', {email: 'Tag@Example.co.jp', lastName: '山田'});"
            "mql.track('Document Downloaded', {id: 'wp-1'})"
        ),
    )
    lead = wait_for(
        lambda: LeadView.objects.filter(email="tag@example.co.jp", scoring__score=5).first()
    )
    assert (lead.last_name, lead.external_id) == ("山田", "crm-77")
    assert sorted(lead.events.values_list("type", flat=True)) == [
        "identify",
        "page",
        "track",
        "track",
    ]
    # a later page keeps the userId the tag remembered
    _batch_answer(page, lambda: page.evaluate("mql.page('Pricing')"))
    assert wait_for(lambda: Event.objects.filter(name="Pricing").first()).user_id == "crm-77"


@pytest.mark.browser
@requires_chromium
@pytest.mark.django_db(transaction=True)
def test_tag_fills_the_visitor_id_into_forms_that_post_to_the_app(
    chromium_page, live_server, site, visit_rule
):
    source = source_create(name="Corporate site", allowed_origins=[site.origin])
    thanks = site.page("thanks.html", '<meta charset="utf-8"><h1>Thanks</h1>')
    Form.objects.create(name="DL", slug="whitepaper", thank_you_url=thanks)
    form_html = f"""<form method="post" action="{live_server.url}/f/whitepaper/">
      <label>姓 <input name="last_name"></label><label>名 <input name="first_name"></label>
      <label>会社名 <input name="company"></label><label>メール <input name="email"></label>
      <button type="submit">資料をダウンロード</button></form>"""
    page = chromium_page
    url = site.page("dl.html", _page_html(live_server.url, source.write_key, body=form_html))

    _batch_answer(page, lambda: page.goto(url))
    wait_for(lambda: Event.objects.filter(type="page").exists())
    visitor = Event.objects.get(type="page").anonymous_id
    assert page.evaluate("document.querySelector('input[name=mql_aid]').value") == visitor

    page.get_by_label("姓").fill("佐藤")
    page.get_by_label("名", exact=True).fill("花子")
    page.get_by_label("会社名").fill("株式会社テスト")
    page.get_by_label("メール").fill("hanako@example.jp")
    page.get_by_role("button", name="資料をダウンロード").click()
    page.wait_for_url(thanks)

    lead = wait_for(
        lambda: LeadView.objects.filter(email="hanako@example.jp", scoring__score=5).first()
    )
    assert Identity.objects.get(kind="anonymous", value=visitor).lead == lead
    assert sorted(lead.events.values_list("type", "name")) == [
        ("identify", ""),
        ("page", ""),
        ("track", "Form Submitted"),
    ]


@pytest.mark.browser
@requires_chromium
@pytest.mark.django_db(transaction=True)
def test_a_site_not_in_allowed_origins_is_refused(chromium_page, live_server, site):
    source = source_create(name="Other site", allowed_origins=["https://www.example.co.jp"])
    page = chromium_page
    url = site.page("p.html", _page_html(live_server.url, source.write_key))
    # The server answers 403 without CORS headers, so the browser fails the request.
    with page.expect_event("requestfailed", lambda r: r.url.endswith("/v1/batch")) as info:
        page.goto(url)
    assert info.value.failure is not None
    assert Event.objects.count() == 0
