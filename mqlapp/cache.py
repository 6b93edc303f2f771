"""The shared cache (Redis) fails open: with Redis down or silent, a cache call answers as an
empty cache would, at once, instead of raising. Its users are counters and throttles (sign-in
failures, form and write-key rate limits): while Redis is out they stop counting, and signing in
or sending a form keeps working (docs/operations.md). Nothing durable is ever kept in it."""

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)
T = TypeVar("T")
DOWN = (RedisConnectionError, RedisTimeoutError, OSError)
WARN_EVERY_SECONDS = 60.0


class FailOpenRedisCache(RedisCache):
    """Django's RedisCache, where an unreachable Redis means: nothing cached, nothing counted."""

    _warned_at = -WARN_EVERY_SECONDS

    def _open(self, call: Callable[[], T], fallback: T) -> T:
        try:
            return call()
        except DOWN as exc:
            now = time.monotonic()
            if now - FailOpenRedisCache._warned_at >= WARN_EVERY_SECONDS:
                FailOpenRedisCache._warned_at = now
                log.warning("cache unreachable, failing open (counters paused): %s", exc)
            return fallback

    def add(self, key: Any, value: Any, timeout: Any = None, version: Any = None) -> bool:
        # True: the caller's "first in this window" branch, which limits nobody.
        return self._open(
            lambda: super(FailOpenRedisCache, self).add(key, value, timeout, version), True
        )

    def get(self, key: Any, default: Any = None, version: Any = None) -> Any:
        return self._open(
            lambda: super(FailOpenRedisCache, self).get(key, default, version), default
        )

    def set(self, key: Any, value: Any, timeout: Any = None, version: Any = None) -> None:
        self._open(lambda: super(FailOpenRedisCache, self).set(key, value, timeout, version), None)

    def touch(self, key: Any, timeout: Any = None, version: Any = None) -> bool:
        return self._open(
            lambda: super(FailOpenRedisCache, self).touch(key, timeout, version), False
        )

    def delete(self, key: Any, version: Any = None) -> bool:
        return self._open(lambda: super(FailOpenRedisCache, self).delete(key, version), False)

    def get_many(self, keys: Any, version: Any = None) -> dict[Any, Any]:
        return self._open(lambda: super(FailOpenRedisCache, self).get_many(keys, version), {})

    def has_key(self, key: Any, version: Any = None) -> bool:
        return self._open(lambda: super(FailOpenRedisCache, self).has_key(key, version), False)

    def incr(self, key: Any, delta: int = 1, version: Any = None) -> int:
        # 0: below any limit (a missing key still raises ValueError, as Django's contract says).
        return self._open(lambda: super(FailOpenRedisCache, self).incr(key, delta, version), 0)

    def set_many(self, data: Any, timeout: Any = None, version: Any = None) -> list[Any]:
        return self._open(
            lambda: super(FailOpenRedisCache, self).set_many(data, timeout, version), []
        )

    def delete_many(self, keys: Any, version: Any = None) -> None:
        self._open(lambda: super(FailOpenRedisCache, self).delete_many(keys, version), None)

    def clear(self) -> None:
        self._open(lambda: super(FailOpenRedisCache, self).clear(), None)
