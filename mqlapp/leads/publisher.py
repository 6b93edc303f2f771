"""Task kicks leave the caller's thread: one daemon thread per process publishes them, so a
broker that is down or silent costs a dropped kick (the beat sweeps catch up), never a slow
request.

A kick only says "there is work": the work itself is already durable in the database (an
outbox row, a queued job, a due delivery), and a periodic sweep finds it without the kick.
So the publisher may coalesce kicks (one "score the queue" stands for a thousand) and drop
them when the broker does not answer, rather than keep a backlog in memory or make a request
wait for a broker. It connects with short timeouts and no reconnect loop of its own.
"""

import atexit
import logging
import os
import threading
import time
from typing import Any

log = logging.getLogger(__name__)

Kick = tuple[str, tuple[Any, ...]]

# Distinct kicks waiting at most (kicks with ids: deliveries, notifications); past this, new
# ones are dropped: their rows are durable and their sweep sends them.
PENDING_MAX = 10_000
# After a failed send, wait this long before trying the broker again (kicks coalesce meanwhile).
BACKOFF_SECONDS = 1.0
# At most one warning per this many seconds while the broker stays down.
WARN_EVERY_SECONDS = 60.0
# A process that exits (a management command, a script) gives its last kicks this long.
EXIT_FLUSH_SECONDS = 5.0


class Publisher:
    """A per-process, non-blocking sender of Celery tasks by name (started on first use)."""

    def __init__(self) -> None:
        self._reset()
        os.register_at_fork(after_in_child=self._reset)
        atexit.register(self.flush, EXIT_FLUSH_SECONDS)

    def _reset(self) -> None:
        # Also in a forked child (a gunicorn or Celery pool process): the parent's thread,
        # lock holder and broker socket did not come along, and the parent sends its own kicks.
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._pending: dict[Kick, None] = {}  # an ordered set
        self._thread: threading.Thread | None = None
        self._sending = False
        self._connection: Any = None
        self._url = ""
        self._warned_at = -WARN_EVERY_SECONDS
        self.sent = 0
        self.dropped = 0

    def kick(self, name: str, args: tuple[Any, ...] = ()) -> None:
        """Queue a kick and return at once; the publisher thread sends it."""
        key = (name, args)
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="mqlapp-task-publisher", daemon=True
                )
                self._thread.start()
            if key in self._pending:
                return
            if len(self._pending) >= PENDING_MAX:
                self.dropped += 1
                return
            self._pending[key] = None
            self._changed.notify_all()

    def flush(self, timeout: float) -> bool:
        """Wait until every queued kick was sent or dropped, at most `timeout` s."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._pending or self._sending:
                if self._thread is None or not self._thread.is_alive():
                    return False
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
        return True

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._pending:
                    self._changed.wait()
                batch = list(self._pending)
                self._pending.clear()
                self._sending = True
            failed = False
            try:
                failed = not self._send_all(batch)
            finally:
                with self._lock:
                    self._sending = False
                    self._changed.notify_all()
            if failed:
                time.sleep(BACKOFF_SECONDS)

    def _send_all(self, batch: list[Kick]) -> bool:
        for index, (name, args) in enumerate(batch):
            try:
                self._send(name, args)
            except Exception as exc:  # noqa: BLE001 (any broker error: the kick is dropped)
                lost = len(batch) - index
                with self._lock:
                    self.dropped += lost
                self._warn(lost, exc)
                return False
            with self._lock:
                self.sent += 1
        return True

    def _send(self, name: str, args: tuple[Any, ...]) -> None:
        # A broker restarted since the last kick broke the kept connection: one more try on a
        # fresh one before the broker counts as down.
        try:
            self._send_once(name, args)
        except Exception:  # noqa: BLE001 (any broker error: one more try, then it raises)
            self._disconnect()
            try:
                self._send_once(name, args)
            except Exception:
                self._disconnect()
                raise

    def _send_once(self, name: str, args: tuple[Any, ...]) -> None:
        connection = self._connect()
        self._app().send_task(
            name, args=args, retry=False, connection=connection, add_to_parent=False
        )

    @staticmethod
    def _app() -> Any:
        from celery import current_app  # noqa: PLC0415 (the shell sets the app up)

        return current_app

    def _connect(self) -> Any:
        app = self._app()
        if self._connection is not None and self._url != app.conf.broker_url:
            self._disconnect()  # the app was pointed at another broker
        if self._connection is None:
            # max_retries=0: one connection attempt, bounded by the broker's connect timeout
            # (CELERY_BROKER_TRANSPORT_OPTIONS), instead of kombu's retry loop of seconds.
            self._url = app.conf.broker_url
            connection = app.connection_for_write(transport_options={"max_retries": 0})
            connection.ensure_connection(max_retries=0)
            self._connection = connection
        return self._connection

    def _disconnect(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.release()
            except Exception:  # closing a broken connection may fail too
                log.debug("closing the broker connection failed", exc_info=True)

    def _warn(self, lost: int, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._warned_at < WARN_EVERY_SECONDS:
            return
        self._warned_at = now
        log.warning(
            "broker unreachable (%s: %s): %d task kick(s) dropped, %d in all; the periodic "
            "sweeps pick the work up once the broker is back",
            type(exc).__name__,
            exc,
            lost,
            self.dropped,
        )


publisher = Publisher()
