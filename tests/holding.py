"""Another connection holding locks while a test acts: what a worker in the middle of its
transaction does to the rows it took."""

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.db import connection, transaction


@contextmanager
def held_elsewhere(hold: Callable[[], object], *, seconds: float = 30) -> Iterator[None]:
    """Run `hold` in a transaction on another connection (a thread of its own) and keep that
    transaction open for the body of the `with`; then roll it back, as a worker that crashed.
    Whatever `hold` raised fails the test."""
    holding, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def other() -> None:
        try:
            with transaction.atomic():
                hold()
                holding.set()
                release.wait(seconds)
                transaction.set_rollback(True)
        except BaseException as exc:  # noqa: BLE001 (handed to the test below)
            errors.append(exc)
        finally:
            holding.set()
            connection.close()

    thread = threading.Thread(target=other)
    thread.start()
    try:
        assert holding.wait(seconds), "the other connection did not take its locks in time"
        if errors:
            raise errors[0]
        yield
    finally:
        release.set()
        thread.join(seconds)
    assert errors == []
