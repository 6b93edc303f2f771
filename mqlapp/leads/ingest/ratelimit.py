"""Per-write-key rate limit of /v1/*: messages per fixed window, counted in Redis.

A request costs its number of messages (at least 1), so a batch of 2,500 costs what 2,500
single calls cost. The count lives in Redis so that every web process shares it. Redis being
slow or down never blocks ingestion: short socket timeouts, and after a failure the limit is
not consulted again for a while (it fails open; docs/security.md, docs/operations.md).
"""

import logging
import math
import threading
import time
from dataclasses import dataclass

import redis
from django.conf import settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int = 0  # whole seconds until the window ends (429's Retry-After)
    limit: int = 0
    window: int = 0


ALLOWED = Verdict(allowed=True)


class _State:
    """One Redis client per process and URL, and when Redis last failed."""

    lock = threading.Lock()
    client: "redis.Redis | None" = None
    url = ""
    failed_until = 0.0


def _client(url: str) -> "redis.Redis":
    with _State.lock:
        if _State.client is None or _State.url != url:
            timeout = settings.INGEST_RATE_REDIS_TIMEOUT
            _State.client = redis.Redis.from_url(
                url, socket_connect_timeout=timeout, socket_timeout=timeout
            )
            _State.url = url
        return _State.client


def write_key_rate_check(source_id: int, *, cost: int, now: float | None = None) -> Verdict:
    """Count `cost` messages for this source in the current window; refuse past the limit.

    Counted before the messages are stored, also when refused: a client that keeps sending
    while refused stays refused until the window ends, as Retry-After says.
    """
    limit, window = settings.INGEST_RATE_LIMIT, settings.INGEST_RATE_WINDOW_SECONDS
    url = settings.INGEST_RATE_REDIS_URL
    if limit <= 0 or window <= 0 or not url:
        return ALLOWED
    now = time.time() if now is None else now
    if now < _State.failed_until:
        return ALLOWED
    bucket = int(now // window)
    key = f"mqlapp:ingest-rate:{source_id}:{bucket}"
    try:
        pipe = _client(url).pipeline(transaction=False)
        pipe.incrby(key, max(1, cost))
        pipe.expire(key, window * 2)
        count = int(pipe.execute()[0])
    except redis.RedisError as exc:
        _State.failed_until = now + settings.INGEST_RATE_FAIL_OPEN_SECONDS
        log.warning("ingest rate limit skipped (Redis unavailable: %s)", exc)
        return ALLOWED
    if count <= limit:
        return ALLOWED
    retry_after = max(1, math.ceil((bucket + 1) * window - now))
    return Verdict(allowed=False, retry_after=retry_after, limit=limit, window=window)
