"""Content-Security-Policy (issue 10): every HTML page answers with a policy that allows
scripts and styles from our own files only (no 'unsafe-inline'), and the templates hold nothing
inline that such a policy would refuse. The browser side is tests/e2e/test_browser_csp.py."""

import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.urls import URLPattern, get_resolver
from django.utils import timezone

from handoff.models import Webhook
from handoff.services import mql_qualify
from mqlapp.console import urls as console_urls
from mqlapp.leads.models import Form
from mqlapp.leads.services import source_create
from scoring.services import rule_create
from tests.conftest import ROOT, signed_in
from tests.factories import lead_make

# Actions that only take a POST and answer with a redirect (require_POST): no page to walk.
POST_ONLY = {
    "lead-action",
    "rule-action",
    "policy-simulate",
    "logout",
    "merge-undo",
    "notification-retry",
    "source-edit",
    "source-rotate",
    "webhook-delivery-resend",
    "webhook-test",
}


def policy_of(response) -> dict[str, list[str]]:
    header = response.get("Content-Security-Policy", "")
    directives = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


def assert_strict(response, path):
    policy = policy_of(response)
    assert policy, f"{path}: no Content-Security-Policy header"
    for directive in ("script-src", "style-src"):
        assert policy[directive] == ["'self'"], (path, directive, policy[directive])
    assert "'unsafe-inline'" not in response["Content-Security-Policy"], path
    assert "'unsafe-eval'" not in response["Content-Security-Policy"], path
    assert policy["default-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]


@pytest.fixture
def site(db, make_user):
    """One of everything a page can show."""
    admin = make_user("admin", username="boss", is_staff=True, is_superuser=True)
    lead = lead_make(email="hanako@example.co.jp", last_name="佐藤", company="サクラ", score=120)
    mql_qualify(lead.pk, score=Decimal(120), reason="threshold", now=timezone.now())
    rule = rule_create(data={"name": "Visits", "kind": "behavior", "event": "page", "points": 5})
    hook = Webhook.objects.create(
        url="https://93.184.216.34/hook", events=["lead.mql"], secret="whsec_dGVzdA=="
    )
    form = Form.objects.create(name="資料請求", slug="whitepaper", consent_text="同意します")
    source_create(name="Website", allowed_origins=["https://www.example.co.jp"])
    return {"admin": admin, "lead": lead, "rule": rule, "hook": hook, "form": form}


def console_pages(site) -> dict[str, str]:
    """Every console page a browser GETs, by URL name."""
    lead, rule, hook = site["lead"], site["rule"], site["hook"]
    return {
        "dashboard": "/",
        "leads": "/leads/",
        "lead": f"/leads/{lead.pk}/",
        "visitors": "/visitors/",
        "queue": "/queue/",
        "reapproach": "/reapproach/",
        "webhooks": "/webhooks/",
        "webhook": f"/webhooks/{hook.pk}/",
        "rules": "/scoring/rules/",
        "rule-new": "/scoring/rules/new/",
        "rule": f"/scoring/rules/{rule.pk}/",
        "policy": "/policy/",
        "imports": "/imports/",
        "imports-jobs": "/imports/jobs/",
        "rules-rescore": "/scoring/rules/rescore/",
        "sources": "/sources/",
        "users": "/users/",
    }


def test_the_walk_covers_every_console_page(site):
    named = {p.name for p in console_urls.urlpatterns if isinstance(p, URLPattern)}
    named |= {
        p.name
        for p in get_resolver().url_patterns
        if isinstance(p, URLPattern) and p.name and p.callback.__module__.startswith("mqlapp.")
    }
    walked = set(console_pages(site)) | {"login", "form-post", "form-thanks"}
    assert named - POST_ONLY - walked == set()


@pytest.mark.parametrize("language", ["en", "ja"])
def test_every_console_page_answers_with_a_strict_policy(site, language):
    client = signed_in(site["admin"], language=language)
    for name, path in console_pages(site).items():
        response = client.get(path)
        assert response.status_code == 200, (name, path, response.status_code)
        assert_strict(response, path)


def test_htmx_partials_and_form_answers_carry_it_too(site):
    client = signed_in(site["admin"])
    simulated = client.post("/policy/simulate/", {"threshold": "80"}, HTTP_HX_REQUEST="true")
    assert simulated.status_code == 200
    assert_strict(simulated, "/policy/simulate/")
    refused = client.post("/users/", {"username": "", "password": "x", "role": "nope"})
    assert_strict(refused, "/users/ (error)")


@pytest.mark.parametrize(
    "path", ["/login/", "/f/whitepaper/", "/f/whitepaper/thanks/", "/admin/login/", "/api/docs/"]
)
def test_public_pages_answer_with_a_strict_policy(site, client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert_strict(response, path)


def test_a_rejected_form_post_and_the_admin_carry_it(site, client):
    posted = client.post("/f/whitepaper/", {"email": "nope"}, REMOTE_ADDR="203.0.113.7")
    assert posted.status_code == 400
    assert_strict(posted, "/f/whitepaper/ (errors)")
    client.force_login(site["admin"])
    assert_strict(client.get("/admin/"), "/admin/")


# --- nothing inline in the templates ----------------------------------------------------------

INLINE = {
    "an inline <script>": re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE),
    "a <style> element": re.compile(r"<style\b", re.IGNORECASE),
    "a style attribute": re.compile(r"\sstyle\s*=", re.IGNORECASE),
    "an event handler attribute": re.compile(r"\son[a-z]+\s*=", re.IGNORECASE),
    "a javascript: URL": re.compile(r"javascript:", re.IGNORECASE),
    "an htmx inline handler": re.compile(r"\shx-on[:-]", re.IGNORECASE),
}


def templates() -> list[Path]:
    return sorted((ROOT / "templates").rglob("*.html"))


def test_there_are_templates_to_check():
    assert len(templates()) > 15


@pytest.mark.parametrize("template", templates(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_template_holds_anything_inline(template):
    text = template.read_text(encoding="utf-8")
    found = [what for what, pattern in INLINE.items() if pattern.search(text)]
    assert found == [], f"{template.relative_to(ROOT)} holds {', '.join(found)}"
