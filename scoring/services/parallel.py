"""Worker processes for the simulator: with many leads, id ranges are scored in parallel.

A pool of processes (spawned, not forked: safe in threaded servers) is started on the
first large simulation and kept; each process sets Django up once and has its own database
connection. Settings: SCORING_SIMULATE_PROCESSES (default: the number of CPUs; 1 turns it
off) and SCORING_SIMULATE_PARALLEL_MIN_LEADS (default 20,000). Only on PostgreSQL: the
processes must see committed data through their own connections.
"""

import logging
import multiprocessing
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from django.conf import settings
from django.db import connection

from .. import procpool

log = logging.getLogger(__name__)
T = TypeVar("T")
_pool: ProcessPoolExecutor | None = None
_pool_lock = threading.Lock()


def processes() -> int:
    return int(getattr(settings, "SCORING_SIMULATE_PROCESSES", 0) or os.cpu_count() or 1)


def _executor() -> ProcessPoolExecutor:
    global _pool  # noqa: PLW0603 (one process pool per web or worker process)
    with _pool_lock:
        if _pool is None:
            database = {key: connection.settings_dict[key] for key in ("NAME", "USER", "HOST")}
            database["PASSWORD"] = connection.settings_dict.get("PASSWORD", "")
            database["PORT"] = connection.settings_dict.get("PORT", "")
            _pool = ProcessPoolExecutor(
                max_workers=processes(),
                mp_context=multiprocessing.get_context("spawn"),
                initializer=procpool.worker_init,
                initargs=(
                    os.environ.get("DJANGO_SETTINGS_MODULE", "mqlapp.settings"),
                    database,
                    settings.DEBUG,
                ),
            )
        return _pool


def pool_shutdown(*, wait: bool = True) -> None:
    """Stop the worker processes (they start again on the next large simulation)."""
    global _pool  # noqa: PLW0603 (one process pool per web or worker process)
    with _pool_lock:
        if _pool is not None:
            _pool.shutdown(wait=wait, cancel_futures=True)
        _pool = None


def parallel_map(fn: Callable[..., T], calls: Sequence[tuple[Any, ...]], *, leads: int) -> list[T]:
    """`fn(*call)` for every call, in order: in worker processes when it pays off."""
    minimum = int(getattr(settings, "SCORING_SIMULATE_PARALLEL_MIN_LEADS", 20_000))
    wanted = (
        len(calls) > 1
        and leads >= minimum
        and processes() > 1
        and connection.vendor == "postgresql"
        and not connection.in_atomic_block  # workers would not see uncommitted rows
    )
    if wanted:
        try:
            pool = _executor()
            futures = [
                pool.submit(procpool.call, fn.__module__, fn.__name__, call) for call in calls
            ]
            return [future.result() for future in futures]
        except BrokenProcessPool:
            log.warning("simulator worker processes died; computing in-process", exc_info=True)
            pool_shutdown(wait=False)
    return [fn(*call) for call in calls]
