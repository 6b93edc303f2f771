"""Fixtures of the ingestion tests: a clean cache (rate limits), scoring rules, batch posts."""

from collections.abc import Callable, Iterator
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _clean_cache() -> Iterator[None]:
    """Rate limits live in the cache: every test starts with none spent."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def visit_rule(db: Any) -> Any:
    """A page view is worth 5 points."""
    from scoring.services import rule_create

    return rule_create(data={"name": "Visit", "kind": "behavior", "event": "page", "points": 5})


@pytest.fixture
def batch(
    ingest: Callable[..., Any], django_capture_on_commit_callbacks: Any
) -> Callable[..., Any]:
    """batch(*messages) → the JSON answer of /v1/batch; after-commit work (scoring) runs."""

    def post(*messages: dict[str, Any], status: int = 200) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            response = ingest("/v1/batch", {"batch": list(messages)})
        assert response.status_code == status, response.content
        return response.json()

    return post
