"""Admin pages: users (create, away/available) and sources (write key, tracking tag)."""

import pytest
from django.test import Client

from mqlapp.leads.models import Source, User
from mqlapp.leads.roles import user_role
from tests.conftest import signed_in

pytestmark = pytest.mark.django_db


def test_admin_creates_a_sales_rep_and_marks_them_away(make_user):
    client = signed_in(make_user("admin"))
    response = client.post(
        "/users/",
        {
            "username": "tanaka",
            "password": "long-enough-pw",
            "email": "tanaka@example.co.jp",
            "role": "sales",
        },
    )
    assert response.status_code == 302
    rep = User.objects.get(username="tanaka")
    assert user_role(rep) == "sales"
    assert rep.available is True
    client.post("/users/", {"action": "availability", "user_id": rep.pk, "available": "0"})
    rep.refresh_from_db()
    assert rep.available is False
    page = client.get("/users/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "tanaka" in page
    # the state in words, and a button that says what it will do, for whom
    assert '<span class="badge muted">Away</span>' in page
    assert 'aria-label="Mark available: tanaka"' in page


def test_weak_password_is_shown_as_an_error(make_user):
    client = signed_in(make_user("admin"))
    response = client.post("/users/", {"username": "x", "password": "123", "role": "sales"})
    assert response.status_code == 200
    assert not User.objects.filter(username="x").exists()
    assert 'role="alert"' in response.content.decode()


def test_sources_page_creates_a_source_and_shows_the_tag(make_user):
    client = signed_in(make_user("admin"))
    client.post(
        "/sources/",
        {
            "name": "Corporate site",
            "allowed_origins": "https://www.example.co.jp/\nhttps://lp.example.co.jp",
        },
    )
    source = Source.objects.get(name="Corporate site")
    assert source.allowed_origins == ["https://www.example.co.jp", "https://lp.example.co.jp"]
    page = client.get("/sources/").content.decode()
    assert source.write_key in page
    assert f'data-write-key="{source.write_key}"' in page.replace("&quot;", '"')
    assert "/static/mqlapp/mql.js" in page


@pytest.mark.parametrize("role", ["marketer", "sales"])
def test_admin_pages_are_refused_to_other_roles(make_user, role):
    client = signed_in(make_user(role))
    assert client.get("/users/").status_code == 403
    assert client.get("/sources/").status_code == 403


def test_pages_need_sign_in():
    response = Client().get("/users/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_pages_speak_japanese_and_english(make_user):
    client = signed_in(make_user("admin"))
    japanese = client.get("/users/", HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    english = client.get("/users/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "保存" in japanese
    assert "新しいユーザー" in japanese
    assert "Save" in english
    assert "New user" in english
