"""In a real browser: the console's pages load under their Content-Security-Policy with no
violation reported (no inline script, style or handler refused), and what moved out of the
templates into static/js/console.js still works (language switch, simulator slider)."""

from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from handoff.models import Webhook
from handoff.services import mql_qualify
from mqlapp.leads.models import Form
from mqlapp.leads.services import source_create
from scoring.services import rule_create
from tests.e2e.conftest import requires_chromium, sign_in
from tests.factories import lead_make

pytestmark = [requires_chromium, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WATCH = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  const where = `${e.sourceFile}:${e.lineNumber}`;
  window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI} ${where}`);
});
"""


class Watcher:
    """Collects CSP violations: the DOM event, and Chromium's console reports of them."""

    def __init__(self, page):
        self.page = page
        self.console: list[str] = []
        self.headers: dict[str, str] = {}
        page.add_init_script(WATCH)
        page.on("console", self._console)
        page.on("response", self._response)

    def _console(self, message):
        text = message.text
        if "Content Security Policy" in text or "Content-Security-Policy" in text:
            self.console.append(text)

    def _response(self, response):
        if response.request.resource_type == "document":
            self.headers[response.url] = response.headers.get("content-security-policy", "")

    def visit(self, url):
        self.page.goto(url)
        self.page.wait_for_load_state("networkidle")
        return self.check(url)

    def check(self, where):
        events = self.page.evaluate("window.__cspViolations || []")
        assert events == [], (where, events)
        assert self.console == [], (where, self.console)
        policy = self.headers.get(self.page.url, "")
        assert "script-src 'self'" in policy, (where, policy)
        assert "'unsafe-inline'" not in policy, (where, policy)


@pytest.fixture
def site(make_user):
    admin = make_user("admin", username="boss", is_staff=True, is_superuser=True)
    lead = lead_make(email="hanako@example.co.jp", last_name="佐藤", company="サクラ", score=120)
    mql_qualify(lead.pk, score=Decimal(120), reason="threshold", now=timezone.now())
    for i in range(3):
        lead_make(email=f"n{i}@example.co.jp", score=10 * i)
    rule = rule_create(data={"name": "Visits", "kind": "behavior", "event": "page", "points": 5})
    hook = Webhook.objects.create(
        url="https://93.184.216.34/hook", events=["lead.mql"], secret="whsec_dGVzdA=="
    )
    Form.objects.create(name="資料請求", slug="whitepaper", consent_text="同意します")
    source_create(name="Website", allowed_origins=["https://www.example.co.jp"])
    return {"admin": admin, "lead": lead, "rule": rule, "hook": hook}


def test_the_console_loads_with_no_csp_violation(browser_page, live_server, site):
    page, base = browser_page, live_server.url
    watch = Watcher(page)
    watch.visit(f"{base}/login/")
    sign_in(page, base, "boss", "a-long-test-password")
    watch.check("/ after sign-in")
    lead, rule, hook = site["lead"], site["rule"], site["hook"]
    for path in (
        "/",
        "/leads/",
        f"/leads/{lead.pk}/",
        "/visitors/",
        "/queue/",
        "/reapproach/",
        "/scoring/rules/",
        "/scoring/rules/new/",
        f"/scoring/rules/{rule.pk}/",
        "/policy/",
        "/imports/",
        "/sources/",
        "/webhooks/",
        f"/webhooks/{hook.pk}/",
        "/users/",
        "/f/whitepaper/",
        "/admin/",
    ):
        watch.visit(f"{base}{path}")


def test_the_charts_keep_their_shape_and_readable_text(browser_page, live_server, site):
    page, base = browser_page, live_server.url
    sign_in(page, base, "boss", "a-long-test-password")
    chart = page.locator("svg.chart").first
    expect(chart).to_be_visible()
    shape = page.evaluate(
        """() => { const s = document.querySelector('svg.chart');
        const box = s.getBoundingClientRect(), vb = s.viewBox.baseVal;
        return {w: box.width, h: box.height, vw: vb.width, vh: vb.height,
                font: parseFloat(s.getAttribute('font-size'))}; }"""
    )
    # drawn at its own aspect ratio (the CSS sets no fixed height), never squashed
    assert shape["h"] == pytest.approx(shape["w"] * shape["vh"] / shape["vw"], abs=1)
    # and its text, scaled with it, reads at 11 px or more at 100 % zoom
    assert shape["font"] * shape["w"] / shape["vw"] >= 11


def test_the_simulator_slider_and_box_follow_each_other(browser_page, live_server, site):
    page, base = browser_page, live_server.url
    watch = Watcher(page)
    sign_in(page, base, "boss", "a-long-test-password")
    watch.visit(f"{base}/policy/")
    # the admin's one threshold: the policy form's slider and number box
    slider = page.get_by_label("MQL threshold (slider)")
    box = page.get_by_label("MQL threshold", exact=True)

    slider.fill("150")
    expect(box).to_have_value("150")
    box.fill("42")
    expect(slider).to_have_value("42")
    # htmx re-ran the simulation for the new threshold without a CSP complaint
    expect(page.locator("#simulation-result")).to_be_visible()
    page.wait_for_load_state("networkidle")
    watch.check("/policy/ after the simulator ran")


def test_the_language_switch_still_submits_itself(browser_page, live_server, site):
    page, base = browser_page, live_server.url
    watch = Watcher(page)
    sign_in(page, base, "boss", "a-long-test-password")
    with page.expect_navigation():
        page.get_by_label("Language").select_option("ja")
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    watch.check("/ in Japanese")


def test_public_pages_load_with_no_csp_violation(browser_page, live_server, site):
    page, base = browser_page, live_server.url
    watch = Watcher(page)
    watch.visit(f"{base}/f/whitepaper/")
    watch.visit(f"{base}/f/whitepaper/thanks/")
    watch.visit(f"{base}/admin/login/")
    watch.visit(f"{base}/api/docs/")
    expect(page.locator(".swagger-ui").first).to_be_visible()
    watch.check("/api/docs/ rendered")
