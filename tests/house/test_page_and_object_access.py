"""Who may see and act (SPEC §2): a signed-in user without a role sees no page and reaches no
API endpoint, and a lead in sales' hands is worked by its owner (or an admin), never by any
sales rep who happens to act on it."""

import re
from collections.abc import Iterator
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from handoff.models import Assignment, LeadView, Webhook
from handoff.services import mql_qualify, policy_update
from mqlapp.leads.models import Form, ImportJob
from scoring.models import ScoringRule
from tests.conftest import client_for, signed_in
from tests.factories import lead_make

pytestmark = pytest.mark.django_db

# Routes a signed-in user without a role may reach, and why. Everything else (every console
# page, every API endpoint) must answer 403 to them.
OPEN_ROUTES = {
    "v1/": "ingestion: authenticated by a source's write key, not by a user",
    "f/": "public landing-page forms",
    "e/": "email open pixels and click redirects (signed tokens)",
    "healthz": "the load balancer's health check",
    "login/": "signing in",
    "logout/": "signing out",
    "i18n/": "choosing the language",
    "api/auth/token/": "getting one's own API token",
    "api/schema/": "the API's description (no data; the same for every caller)",
    "api/docs/": "the browsable page of that description",
    "api/^(?P<rest>(?s:.*))$": "an unknown API path: the same JSON 404 for everyone",
    "admin/": "Django's admin: staff only (is_staff), a role-less user is sent to its sign-in",
    "sourceConfig/": "SDK settings by write key (SPEC §3)",
    "beacon/v1/": "RudderStack's beacon ingestion: authenticated by a source's write key",
    "static/": "static files",
}


def _routes(patterns: list[URLPattern | URLResolver], prefix: str = "") -> Iterator[str]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern)


GUARDED = sorted(
    {r for r in _routes(get_resolver().url_patterns) if not r.startswith(tuple(OPEN_ROUTES))}
)


def test_the_walk_covers_the_console_and_the_api():
    # the parametrised walk below is every route but the open ones: pages and API alike
    assert {"", "leads/", "leads/<int:pk>/", "queue/", "policy/", "users/"} <= set(GUARDED)
    assert {"api/leads/", "api/leads/<int:pk>/", "api/handoff/queue/", "api/webhooks/"} <= set(
        GUARDED
    )
    assert len(GUARDED) > 40


def _path(route: str, ids: dict[str, int]) -> str:
    """A concrete path for a route: existing objects' ids, so a 403 is not a 404 in disguise."""
    owner = next((k for k in ids if route.removeprefix("api/").startswith(k)), "leads/")
    path = re.sub(r"<int:\w+>", str(ids[owner]), route)
    path = re.sub(r"<str:action>", "accept", path)
    return "/" + re.sub(r"<(?:\w+:)?\w+>", "x", path)


@pytest.mark.parametrize("route", GUARDED)
def test_a_user_without_a_role_gets_403_on_every_page_and_endpoint(route):
    lead = lead_make(email="secret@example.co.jp", company="Secret KK")
    ids = {
        "leads/": lead.pk,
        "webhooks/": Webhook.objects.create(url="https://hooks.example.com/", secret="s").pk,
        "scoring/rules/": ScoringRule.objects.create(name="r", event="x", points=1).pk,
        "forms/": Form.objects.create(name="f", slug="f").pk,
        "imports/": ImportJob.objects.create(sha256="0" * 64).pk,
    }
    nobody = get_user_model().objects.create_user("nobody", password="a-long-test-password")
    ids["users/"] = ids["handoff/reps/"] = nobody.pk
    path = _path(route, ids)
    client = client_for(nobody) if path.startswith("/api/") else signed_in(nobody)

    answers = {m: getattr(client, m)(path) for m in ("get", "post", "put", "patch", "delete")}

    statuses = {m: a.status_code for m, a in answers.items()}
    # 405 (a method the route does not have) says nothing; anything else must be 403
    assert set(statuses.values()) <= {403, 405}, (path, statuses)
    assert 403 in statuses.values(), (path, statuses)
    for answer in answers.values():
        assert b"secret@example.co.jp" not in answer.content
        assert b"Secret KK" not in answer.content
    assert LeadView.objects.get(pk=lead.pk).stage == "nurturing"


def _pool_mql(email: str) -> LeadView:
    policy_update(data={"assignment": "manual"})
    lead = lead_make(email=email)
    assert mql_qualify(lead.pk, score=Decimal(90), reason="threshold", now=timezone.now())
    assert LeadView.objects.get(pk=lead.pk).owner_id is None
    return lead


def test_an_mql_an_admin_accepted_while_unassigned_is_the_admins_not_any_reps(make_user):
    rep, other, admin = make_user("sales"), make_user("sales"), make_user("admin")
    lead = _pool_mql("pool@example.co.jp")
    assert client_for(admin).post(f"/api/handoff/leads/{lead.pk}/accept/").status_code == 200
    accepted = LeadView.objects.get(pk=lead.pk)
    assert (accepted.stage, accepted.owner_id) == ("sal", admin.pk)

    for someone in (rep, other):
        refused = client_for(someone).post(f"/api/handoff/leads/{lead.pk}/qualify/")
        assert refused.status_code == 403
        assert refused.json()["code"] == "permission_denied"
    assert LeadView.objects.get(pk=lead.pk).stage == "sal"


def test_an_ownerless_sal_is_no_reps_to_qualify_win_or_lose(make_user):
    """The owner's account is deleted (the owner column is set to null): the lead sits in
    `sal` without an owner. Neither rep may qualify it, and so take it, by acting on it; an
    admin gives it to one of them, and from then on only that rep (or an admin) moves it."""
    rep, other, admin = make_user("sales"), make_user("sales"), make_user("admin")
    leaver = make_user("sales")
    lead = _pool_mql("orphan@example.co.jp")
    assert client_for(leaver).post(f"/api/handoff/leads/{lead.pk}/accept/").status_code == 200
    leaver.delete()
    assert (LeadView.objects.get(pk=lead.pk).stage, LeadView.objects.get(pk=lead.pk).owner_id) == (
        "sal",
        None,
    )

    for someone in (rep, other):
        for action in ("qualify", "reject", "recycle"):
            body = {"reason": "no_need"} if action != "qualify" else {}
            refused = client_for(someone).post(
                f"/api/handoff/leads/{lead.pk}/{action}/", body, format="json"
            )
            assert refused.status_code == 403, (someone.username, action)
            assert "admin" in refused.json()["error"]
    still = LeadView.objects.get(pk=lead.pk)
    assert (still.stage, still.owner_id) == ("sal", None)

    # an admin gives it to `other` (claim with owner works in sal and sql too)
    given = client_for(admin).post(
        f"/api/handoff/leads/{lead.pk}/claim/", {"owner": other.pk}, format="json"
    )
    assert given.status_code == 200
    assert (given.json()["stage"], given.json()["owner"]) == ("sal", other.pk)
    assert client_for(rep).post(f"/api/handoff/leads/{lead.pk}/qualify/").status_code == 403
    assert client_for(other).post(f"/api/handoff/leads/{lead.pk}/qualify/").status_code == 200
    assert client_for(rep).post(f"/api/handoff/leads/{lead.pk}/win/").status_code == 403
    assert client_for(rep).post(f"/api/handoff/leads/{lead.pk}/lose/").status_code == 403
    assert client_for(other).post(f"/api/handoff/leads/{lead.pk}/win/").status_code == 200
    done = LeadView.objects.get(pk=lead.pk)
    assert (done.stage, done.owner_id) == ("won", other.pk)
    # the leaver's assignment went with their account; the admin's decision is kept
    assert list(Assignment.objects.filter(lead_id=lead.pk).values_list("user", "why", "by")) == [
        (other.pk, "admin", admin.pk)
    ]


def test_an_admin_who_moves_an_ownerless_sql_further_owns_it(make_user):
    rep, admin = make_user("sales"), make_user("admin")
    leaver = make_user("sales")
    lead = _pool_mql("sql@example.co.jp")
    assert client_for(leaver).post(f"/api/handoff/leads/{lead.pk}/accept/").status_code == 200
    assert client_for(leaver).post(f"/api/handoff/leads/{lead.pk}/qualify/").status_code == 200
    leaver.delete()

    assert client_for(rep).post(f"/api/handoff/leads/{lead.pk}/lose/").status_code == 403
    assert client_for(admin).post(f"/api/handoff/leads/{lead.pk}/lose/").status_code == 200
    lost = LeadView.objects.get(pk=lead.pk)
    assert (lost.stage, lost.owner_id) == ("lost", admin.pk)


def test_a_rep_still_takes_an_unassigned_mql_from_the_pool(make_user):
    rep, other = make_user("sales"), make_user("sales")
    lead = _pool_mql("take@example.co.jp")

    assert client_for(rep).post(f"/api/handoff/leads/{lead.pk}/accept/").status_code == 200
    assert LeadView.objects.get(pk=lead.pk).owner_id == rep.pk
    assert client_for(other).post(f"/api/handoff/leads/{lead.pk}/qualify/").status_code == 403
