"""With Redis down, the cache fails open: signing in and posting forms keep working (the
throttles stop counting) instead of answering 500 (issue 10, docs/operations.md)."""

import pytest
from django.core.cache import caches
from django.test import Client

from mqlapp.cache import FailOpenRedisCache
from mqlapp.leads.ingest.public_views import rate_limited

DEAD = "redis://127.0.0.1:1/0"  # nothing listens on port 1: connections are refused at once


@pytest.fixture
def dead_cache(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "mqlapp.cache.FailOpenRedisCache",
            "LOCATION": DEAD,
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
    assert isinstance(caches["default"], FailOpenRedisCache)


def test_every_call_answers_as_an_empty_cache_would():
    cache = FailOpenRedisCache(DEAD, {"OPTIONS": {"socket_connect_timeout": 1}})

    assert cache.get("k", "fallback") == "fallback"
    assert cache.add("k", 1, timeout=5) is True
    assert cache.incr("k") == 0
    assert cache.set("k", 1) is None
    assert cache.get_many(["a", "b"]) == {}
    assert cache.has_key("k") is False
    assert cache.delete("k") is False


def test_the_form_rate_limit_lets_everyone_through_while_redis_is_down(dead_cache):
    assert [rate_limited("form:1.2.3.4", limit=2, window=60) for _ in range(5)] == [False] * 5


@pytest.mark.django_db
def test_signing_in_works_while_redis_is_down(dead_cache, make_user):
    make_user("sales", username="rep")

    wrong = Client().post("/login/", {"username": "rep", "password": "not-it"})
    right = Client().post("/login/", {"username": "rep", "password": "a-long-test-password"})

    assert wrong.status_code == 200  # the form again, with its error: no 500
    assert right.status_code == 302
