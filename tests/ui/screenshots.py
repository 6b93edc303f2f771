"""Screenshots of console pages in both languages, from a running server (`make run`):

    .venv/bin/python tests/ui/screenshots.py [--base http://127.0.0.1:8000] [--out .run/screenshots]
        [--only login,sources,webhooks]

Signs in as the demo admin (mqlapp-admin), walks the nav's pages (and the first webhook and
lead), and writes <page>-ja.png and <page>-en.png at 1280 px wide. The test run writes the
same for its own data (tests/ui/test_console_walk.py, to .run/screenshots/); docs/ui/ holds
the committed ones, taken with this script on the demo data and looked at (docs/ui.md)."""

import argparse
import re
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"


def shot_name(path: str) -> str:
    name = re.sub(r"[^a-z0-9]+", "-", path.strip("/").lower()).strip("-")
    return re.sub(r"-\d+$", "", re.sub(r"\d+", "id", name)) if name else "dashboard"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="http://127.0.0.1:8000")
    parser.add_argument("--out", default=".run/screenshots")
    parser.add_argument("--only", default="", help="comma-separated names: login,sources,...")
    parser.add_argument("--user", default="admin")
    parser.add_argument("--password", default="mqlapp-admin")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    only = {n for n in args.only.split(",") if n}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        for lang in ("ja", "en"):
            context = browser.new_context(
                locale="ja-JP" if lang == "ja" else "en-US",
                extra_http_headers={"Accept-Language": lang},
                viewport={"width": 1280, "height": 800},
            )
            page = context.new_page()
            page.goto(f"{args.base}/login/")
            if not only or "login" in only:
                page.screenshot(path=str(out / f"login-{lang}.png"), full_page=True)
            page.locator("#id_username").fill(args.user)
            page.locator("#id_password").fill(args.password)
            page.locator("#id_password").press("Enter")
            page.wait_for_url(f"{args.base}/")
            links = page.eval_on_selector_all(
                "header nav a[href]", "links => links.map(a => a.getAttribute('href'))"
            )
            for path in dict.fromkeys(links):
                name = shot_name(path)
                if only and name not in only:
                    continue
                page.goto(f"{args.base}{path}")
                page.wait_for_load_state("networkidle")
                page.screenshot(path=str(out / f"{name}-{lang}.png"), full_page=True)
                print(out / f"{name}-{lang}.png")
            # one detail page of each kind the nav leads to: a webhook, a lead
            for listing, pattern, name in (
                ("/webhooks/", r"^/webhooks/\d+/$", "webhook-detail"),
                ("/leads/", r"^/leads/\d+/$", "lead"),
            ):
                if only and name not in only:
                    continue
                page.goto(f"{args.base}{listing}")
                hrefs = page.eval_on_selector_all(
                    "main a[href]", "links => links.map(a => a.getAttribute('href'))"
                )
                found = next((h for h in hrefs if re.match(pattern, h)), None)
                if found:
                    page.goto(f"{args.base}{found}")
                    page.wait_for_load_state("networkidle")
                    page.screenshot(path=str(out / f"{name}-{lang}.png"), full_page=True)
                    print(out / f"{name}-{lang}.png")
            context.close()
        browser.close()


if __name__ == "__main__":
    main()
