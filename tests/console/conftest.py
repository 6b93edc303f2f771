"""Browser fixtures of the console tests: the e2e suite's Chromium page, shared."""

from tests.e2e.conftest import browser_page

__all__ = ["browser_page"]
