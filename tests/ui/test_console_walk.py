"""Every console page, as each role, in Japanese and English, in Chromium:
- no stored code (a stage, reason, rule kind, assignment cause, status...) shown as visible
  text on a Japanese page: each is shown by its words (mqlapp.console.labels);
- axe-core finds no serious or critical accessibility violation;
- no JavaScript error and no failed request (a favicon 404 included);
- a screenshot of each page in each language is written to .run/screenshots/ (git-ignored).

The pages are the nav's links as each role sees them, plus one detail page of each kind, so
a page added to the nav is walked too."""

import re
from typing import Any

import pytest

from handoff.lifecycle import REASONS, Stage
from handoff.models import Assignment, MqlPolicy, WebhookDelivery
from mqlapp.console.labels import LABELS
from mqlapp.leads.models import ImportJob, Source
from mqlapp.leads.roles import ROLES
from scoring.models import RescoreJob, ScoreHistory, ScoringRule
from tests.e2e.conftest import requires_chromium
from tests.ui.conftest import SCREENSHOTS, new_page, sign_in_as

pytestmark = [requires_chromium, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# the choice values of the models: none may be read as such on a Japanese page
RAW_CODES = frozenset(
    [
        *Stage.values,
        *REASONS,
        *ScoringRule.Kind.values,
        *MqlPolicy.Assignment.values,
        *Assignment.Why.values,
        *ImportJob.Status.values,
        *RescoreJob.State.values,
        *WebhookDelivery.Status.values,
        *ScoreHistory.Cause.values,
        *Source.Kind.values,
        *ROLES,
        *(code for table in LABELS.values() for code in table if "." not in code),
    ]
)

# The visible text of the page, without what is code by nature: <code>, <pre>, <textarea>
# (snippets to paste), and the values of fields; options of a <select> are included.
VISIBLE_TEXT = """
() => {
  const skip = new Set(["CODE", "PRE", "TEXTAREA", "SCRIPT", "STYLE", "NOSCRIPT", "TEMPLATE"]);
  const parts = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  let node;
  while ((node = walker.nextNode())) {
    let el = node.parentElement, hidden = false;
    for (let e = el; e; e = e.parentElement) {
      if (skip.has(e.tagName)) { hidden = true; break; }
    }
    if (hidden) continue;
    const inSelect = el.closest("select");
    if (!inSelect) {
      const style = getComputedStyle(el);
      if (style.display === "none" || style.visibility === "hidden") continue;
      if (!el.getClientRects().length) continue;
    }
    parts.push(node.textContent);
  }
  return parts.join(" ");
}
"""
# a word of letters and underscores, not part of an address, a dotted name or a file name
WORD = re.compile(r"(?<![\w.@/:-])[A-Za-z][A-Za-z_]*(?![\w.@/:-])")


def raw_codes_in(text: str) -> list[str]:
    found = []
    for word in WORD.findall(text):
        lowered = word.lower()
        # "nurturing", "no_budget" as stored, or "Done" as Django's default label shows it
        if word in RAW_CODES or (lowered in RAW_CODES and word == word.capitalize()):
            found.append(word)
    return sorted(set(found))


def test_raw_codes_are_found_by_the_check():
    """The check itself: codes as stored or in Django's default label are caught; acronyms,
    addresses, dotted names and people's words are not."""
    assert raw_codes_in("ステージ: nurturing 理由 no_budget 状態 Done") == [
        "Done",
        "no_budget",
        "nurturing",
    ]
    assert raw_codes_in("MQL SQL SLA window.mql.track() lead.mql fit@example.com /x/done") == []


AXE_SERIOUS = ("serious", "critical")


def axe_violations(page: Any, axe_path: Any) -> list[str]:
    page.add_script_tag(path=str(axe_path))
    result = page.evaluate(
        """async () => {
          const r = await axe.run(document, {resultTypes: ["violations"]});
          return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 3).map(n => n.target.join(" "))}));
        }"""
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {v['nodes']}"
        for v in result
        if v["impact"] in AXE_SERIOUS
    ]


def pages_of(page: Any, base: str, site: dict[str, Any], role: str) -> list[str]:
    """The nav's pages for this role, and a detail page of each kind it may open."""
    links = page.eval_on_selector_all(
        "header nav a[href]", "links => links.map(a => a.getAttribute('href'))"
    )
    paths = list(dict.fromkeys(links))
    paths.append(f"/leads/{site['leads']['mql'].pk}/")
    paths.append(f"/leads/{site['leads']['disqualified'].pk}/")
    if role in ("marketer", "admin"):
        paths += ["/scoring/rules/new/", f"/scoring/rules/{site['rule'].pk}/"]
    if role == "admin":
        paths.append(f"/webhooks/{site['hook'].pk}/")
    return paths


def shot_name(path: str) -> str:
    name = re.sub(r"[^a-z0-9]+", "-", path.strip("/").lower()).strip("-")
    return re.sub(r"\d+", "id", name) or "dashboard"


@pytest.mark.parametrize("lang", ["ja", "en"])
@pytest.mark.parametrize("role", ["admin", "marketer", "sales"])
def test_every_page_reads_in_words_and_passes_axe(
    chromium, live_server, console_site, axe_path, role, lang
):
    base = live_server.url
    page = new_page(chromium, lang)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}"))
    page.on(
        "console",
        lambda m: errors.append(f"{page.url}: console {m.text}") if m.type == "error" else None,
    )
    page.on(
        "response",
        lambda r: errors.append(f"{r.url}: {r.status}") if r.status >= 400 else None,
    )
    problems: dict[str, list[str]] = {}
    login_checked = role != "admin"
    if not login_checked:  # the sign-in page, once per language
        page.goto(f"{base}/login/")
        problems["/login/ axe"] = axe_violations(page, axe_path)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"login-{lang}.png"), full_page=True)
    sign_in_as(page, base, role)
    for path in pages_of(page, base, console_site, role):
        page.goto(f"{base}{path}")
        page.wait_for_load_state("networkidle")
        assert page.locator("html").get_attribute("lang") == lang, path
        if lang == "ja":
            codes = raw_codes_in(page.evaluate(VISIBLE_TEXT))
            if codes:
                problems[f"{path} raw codes"] = codes
        violations = axe_violations(page, axe_path)
        if violations:
            problems[f"{path} axe"] = violations
        if role == "admin" or path in ("/queue/", "/scoring/rules/"):
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            name = f"{shot_name(path)}-{lang}.png" if role == "admin" else None
            name = name or f"{shot_name(path)}-{role}-{lang}.png"
            page.screenshot(path=str(SCREENSHOTS / name), full_page=True)
    page.context.close()
    found = {k: v for k, v in problems.items() if v}
    assert not found, "\n".join(f"{k}: {v}" for k, v in found.items())
    assert errors == []
