"""Failed sign-ins are counted per username and client address together (issue 10: the old
throttle keyed on REMOTE_ADDR, so behind the HTTPS proxy anyone's failures locked everyone out,
and failures against one username locked its owner out from everywhere; /admin/login/ was not
throttled at all). One proxy-aware client address (NUM_PROXIES) is used everywhere."""

import pytest
from django.test import Client, RequestFactory
from rest_framework.test import APIClient

from mqlapp.leads.throttle import client_ip

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-test-password"
LIMIT = 3
PROXY = "10.0.0.5"


@pytest.fixture(autouse=True)
def _limit(settings):
    settings.LOGIN_FAILURE_LIMIT = LIMIT


@pytest.fixture
def rep(make_user):
    return make_user("sales", username="rep")


def console_login(username, password, **meta):
    return Client().post("/login/", {"username": username, "password": password}, **meta)


def token(username, password, **meta):
    return APIClient().post(
        "/api/auth/token/", {"username": username, "password": password}, format="json", **meta
    )


def admin_login(username, password, **meta):
    return Client().post(
        "/admin/login/?next=/admin/", {"username": username, "password": password}, **meta
    )


def from_address(address):
    return {"REMOTE_ADDR": address}


def through_proxy(client_address, forwarded_by_client=""):
    """A request as the proxy passes it on: it appends the address it saw."""
    chain = f"{forwarded_by_client}, {client_address}" if forwarded_by_client else client_address
    return {"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": chain}


# --- the client address -------------------------------------------------------------------


CLIENT = "198.51.100.1"


@pytest.mark.parametrize(
    ("proxies", "remote", "forwarded", "expected"),
    [
        (0, "203.0.113.9", CLIENT, "203.0.113.9"),  # no proxies: the header is not read
        (1, PROXY, CLIENT, CLIENT),
        (1, PROXY, f"1.2.3.4, {CLIENT}", CLIENT),  # left of the proxy's entry: the client's own
        (2, PROXY, f"1.2.3.4, {CLIENT}, 10.0.0.4", CLIENT),
        (2, PROXY, CLIENT, PROXY),  # fewer entries than proxies: one was bypassed
        (1, PROXY, "not-an-address", PROXY),
        (1, PROXY, " 2001:db8::1 ", "2001:db8::1"),
        (0, "", None, None),
    ],
)
def test_client_ip_trusts_only_what_the_proxies_appended(
    settings, proxies, remote, forwarded, expected
):
    settings.NUM_PROXIES = proxies
    meta = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    assert client_ip(RequestFactory().get("/", **meta)) == expected


# --- one username, two addresses ------------------------------------------------------------


def test_failures_from_one_address_do_not_lock_the_user_out_from_another(rep):
    codes = [console_login("rep", "wrong", **from_address("198.51.100.1")).status_code
             for _ in range(LIMIT)]  # fmt: skip
    assert codes == [200] * LIMIT  # the form again, "wrong username or password"

    assert console_login("rep", PASSWORD, **from_address("198.51.100.1")).status_code == 429
    assert console_login("rep", PASSWORD, **from_address("203.0.113.7")).status_code == 302
    assert token("rep", PASSWORD, **from_address("203.0.113.7")).status_code == 200


def test_failures_for_one_user_do_not_lock_other_users_out_of_that_address(rep, make_user):
    make_user("marketer", username="mk")
    for _ in range(LIMIT):
        console_login("rep", "wrong", **from_address("198.51.100.1"))

    assert console_login("mk", PASSWORD, **from_address("198.51.100.1")).status_code == 302
    assert console_login("rep", PASSWORD, **from_address("198.51.100.1")).status_code == 429


# --- behind the proxy -------------------------------------------------------------------


def test_behind_the_proxy_one_clients_failures_do_not_lock_out_another(rep, settings):
    settings.NUM_PROXIES = 1
    for _ in range(LIMIT):
        assert token("rep", "wrong", **through_proxy("198.51.100.1")).status_code == 400

    locked = token("rep", PASSWORD, **through_proxy("198.51.100.1"))
    assert locked.status_code == 429
    # another client behind the same proxy (the same REMOTE_ADDR) is not locked out
    assert token("rep", PASSWORD, **through_proxy("198.51.100.2")).status_code == 200
    assert console_login("rep", PASSWORD, **through_proxy("198.51.100.2")).status_code == 302


def test_behind_the_proxy_a_forged_header_does_not_escape_the_lock(rep, settings):
    settings.NUM_PROXIES = 1
    for _ in range(LIMIT):
        token("rep", "wrong", **through_proxy("198.51.100.1"))

    forged = token("rep", PASSWORD, **through_proxy("198.51.100.1", forwarded_by_client="1.2.3.4"))
    assert forged.status_code == 429


def test_without_proxies_the_header_is_ignored(rep, settings):
    settings.NUM_PROXIES = 0
    for i in range(LIMIT):
        token("rep", "wrong", REMOTE_ADDR="198.51.100.1", HTTP_X_FORWARDED_FOR=f"192.0.2.{i}")
    blocked = token("rep", PASSWORD, REMOTE_ADDR="198.51.100.1", HTTP_X_FORWARDED_FOR="192.0.2.99")
    assert blocked.status_code == 429


# --- every way to sign in is throttled ------------------------------------------------------


def test_the_admin_sign_in_is_throttled(make_user):
    make_user("admin", username="boss", is_staff=True)
    codes = [admin_login("boss", "wrong", **from_address("198.51.100.1")).status_code
             for _ in range(LIMIT)]  # fmt: skip
    assert codes == [200] * LIMIT

    refused = admin_login(
        "boss", PASSWORD, HTTP_ACCEPT_LANGUAGE="en", **from_address("198.51.100.1")
    )
    assert refused.status_code == 429
    assert refused["Retry-After"] == "300"
    assert "Too many failed sign-ins" in refused.content.decode()
    # the admin from their own address is not locked out
    assert admin_login("boss", PASSWORD, **from_address("203.0.113.7")).status_code == 302


def test_the_token_endpoint_answers_429_json_with_retry_after(rep):
    for _ in range(LIMIT):
        token("rep", "wrong", **from_address("198.51.100.1"))
    refused = token("rep", PASSWORD, **from_address("198.51.100.1"))
    assert refused.status_code == 429
    assert refused["Retry-After"] == "300"
    assert refused.json() == {
        "error": "too many failed sign-ins; try again later",
        "code": "throttled",
    }


def test_the_console_sign_in_page_says_why_in_japanese(rep):
    for _ in range(LIMIT):
        console_login("rep", "wrong", **from_address("198.51.100.1"))
    refused = console_login(
        "rep", PASSWORD, HTTP_ACCEPT_LANGUAGE="ja", **from_address("198.51.100.1")
    )
    assert refused.status_code == 429
    assert "ログインの失敗が多すぎます。" in refused.content.decode()


def test_a_username_in_another_case_counts_as_the_same(rep):
    for name in ("rep", "REP", " Rep "):
        console_login(name, "wrong", **from_address("198.51.100.1"))
    assert console_login("rep", PASSWORD, **from_address("198.51.100.1")).status_code == 429


def test_an_admin_can_lift_one_lock_before_the_window_ends(rep):
    from django.core.management import call_command

    for _ in range(LIMIT):
        console_login("Rep", "wrong", **from_address("198.51.100.1"))
    assert console_login("rep", PASSWORD, **from_address("198.51.100.1")).status_code == 429

    call_command("axes_reset_ip_username", "198.51.100.1", "rep", stdout=None)

    assert console_login("rep", PASSWORD, **from_address("198.51.100.1")).status_code == 302
