"""Browser fixtures of the page tests: the e2e suite's Chromium page, shared; and the recycle
form as a rep fills it (the queue and the lead page share it)."""

from datetime import date
from typing import Any

from tests.e2e.conftest import browser_page

__all__ = ["browser_page", "recycle_with_date"]


def recycle_with_date(page: Any, who: str, reason: str, day: date) -> None:
    """Open "Recycle…" of `who`, choose the reason (words), type the date, submit."""
    page.get_by_text("Recycle…").first.click()
    form = page.locator("fieldset", has_text=f"Recycle {who} to nurturing")
    form.get_by_label("Why recycle?").select_option(label=reason)
    form.get_by_label("Re-approach on").fill(day.isoformat())
    with page.expect_navigation():
        form.get_by_role("button", name="Recycle").click()
