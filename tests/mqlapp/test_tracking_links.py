"""Email tracking links: signed tokens, the open pixel, the click redirect, forgeries refused."""

import pytest
from django.core import signing
from django.test import Client

from handoff.models import LeadView
from mqlapp.leads.ingest.tracking import SALT
from mqlapp.leads.models import Event

pytestmark = pytest.mark.django_db

GIF_HEADER = b"GIF89a"


@pytest.fixture
def links(api):
    response = api("marketer").post(
        "/api/tracking-links/",
        {
            "email": "Reader@Example.co.jp",
            "campaign": "2025-04 newsletter",
            "url": "https://www.example.co.jp/seminar?id=7",
        },
        format="json",
    )
    assert response.status_code == 201
    return response.json()


def _path(url):
    return url.removeprefix("http://127.0.0.1:8000")


def test_links_carry_a_signed_token(links):
    assert links["open_url"] == f"http://127.0.0.1:8000/e/o/{links['token']}.gif"
    assert links["click_url"] == f"http://127.0.0.1:8000/e/c/{links['token']}"
    assert signing.loads(links["token"], salt=SALT) == {
        "e": "reader@example.co.jp",
        "c": "2025-04 newsletter",
        "u": "https://www.example.co.jp/seminar?id=7",
    }


def test_only_marketers_and_admins_make_links(api):
    body = {"email": "a@example.com", "campaign": "c"}
    assert api("sales").post("/api/tracking-links/", body, format="json").status_code == 403
    made = api("admin").post("/api/tracking-links/", body, format="json")
    assert made.status_code == 201
    assert made.json()["click_url"] is None  # no url: an open pixel only


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "nope", "campaign": "c"}, "email"),
        ({"email": "a@example.com", "campaign": " "}, "campaign"),
        ({"email": "a@example.com", "campaign": "c", "url": "javascript:alert(1)"}, "url"),
        ({"email": "a@example.com", "campaign": "c", "url": "//evil.example/x"}, "url"),
    ],
)
def test_bad_link_requests_are_400(api, body, field):
    response = api("marketer").post("/api/tracking-links/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["fields"]


def test_the_open_pixel_records_email_opened(links):
    response = Client().get(_path(links["open_url"]))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/gif"
    assert "no-store" in response["Cache-Control"]
    assert response.content.startswith(GIF_HEADER)
    event = LeadView.objects.get(email="reader@example.co.jp").events.get()
    assert (event.name, event.properties) == ("Email Opened", {"campaign": "2025-04 newsletter"})
    assert event.campaign == {"name": "2025-04 newsletter", "medium": "email"}


def test_opens_within_the_hour_count_once(links):
    for _ in range(3):
        Client().get(_path(links["open_url"]))
    assert Event.objects.filter(name="Email Opened").count() == 1


def test_the_click_records_and_redirects_to_the_signed_url(links):
    response = Client().get(_path(links["click_url"]))
    assert response.status_code == 302
    assert response["Location"] == "https://www.example.co.jp/seminar?id=7"
    event = Event.objects.get()
    assert (event.name, event.lead.email) == ("Email Link Clicked", "reader@example.co.jp")
    assert event.properties["url"] == "https://www.example.co.jp/seminar?id=7"


def test_a_forged_click_token_is_400_and_counts_nothing(links):
    forged = signing.dumps(
        {"e": "reader@example.co.jp", "c": "x", "u": "https://evil.example/"},
        salt=SALT,
        key="not-the-app-secret-key-" + "x" * 40,
        compress=True,
    )
    response = Client().get(f"/e/c/{forged}")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_token"
    assert "Location" not in response
    assert Event.objects.count() == 0


def test_an_altered_token_is_400_and_counts_nothing(links):
    token = links["token"]
    altered = ("A" if token[1] != "A" else "B").join((token[:1], token[2:]))
    assert Client().get(f"/e/c/{altered}").status_code == 400
    assert Client().get(f"/e/o/{altered}.gif").status_code == 400
    assert Client().get("/e/c/not-a-token").status_code == 400
    assert Event.objects.count() == 0


def test_a_click_on_a_link_without_destination_is_400(api):
    made = api("marketer").post(
        "/api/tracking-links/", {"email": "a@example.com", "campaign": "c"}, format="json"
    )
    assert Client().get(f"/e/c/{made.json()['token']}").status_code == 400
    assert Event.objects.count() == 0


def test_unsubscribed_leads_are_not_tracked(links, ingest):
    ingest(
        "/v1/track",
        {
            "event": "Unsubscribed",
            "userId": "u",
            "context": {"traits": {"email": "reader@example.co.jp"}},
        },
    )
    assert Client().get(_path(links["open_url"])).status_code == 200
    click = Client().get(_path(links["click_url"]))
    assert click.status_code == 302  # the reader still gets where they wanted to go
    assert list(Event.objects.values_list("name", flat=True)) == ["Unsubscribed"]
