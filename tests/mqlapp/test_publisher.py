"""Task kicks never make the caller wait for the broker (mqlapp/leads/publisher.py)."""

import os
import socket
from collections.abc import Iterator

import pytest

from mqlapp.celery import app
from mqlapp.leads.publisher import publisher
from mqlapp.leads.services import task_kick
from tests.conftest import requires_services

pytestmark = [requires_services, pytest.mark.integration]


@pytest.fixture
def broker_conf() -> Iterator[None]:
    saved = app.conf.broker_url, dict(app.conf.broker_transport_options)
    yield
    app.conf.broker_url, app.conf.broker_transport_options = saved


def test_a_kick_returns_while_a_silent_broker_still_has_the_publisher_waiting(broker_conf):
    # given: a broker address that takes connections and never answers, which the publisher
    # would wait on for 30 s
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        silent.settimeout(30)
        app.conf.broker_url = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
        app.conf.broker_transport_options = {"socket_connect_timeout": 30, "socket_timeout": 30}
        # when
        task_kick("scoring.tasks.leads_score_pending")
        # then: the kick has returned, yet the publisher's connection is open and waiting for
        # the broker's answer (a kick sent in the caller's thread would have given up and
        # closed it before returning)
        conn, _ = silent.accept()
        with conn:
            conn.settimeout(5)
            assert conn.recv(4096)  # the client's first command, unanswered
            conn.settimeout(1)
            with pytest.raises(TimeoutError):
                conn.recv(4096)  # not closed: still waiting for the answer
    # and once that broker is gone for good, the kick is dropped, never raised
    assert publisher.flush(timeout=30)


def test_the_publisher_sends_again_once_the_broker_is_back(broker_conf):
    # given: kicks dropped while the broker was down (a closed port)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        app.conf.broker_url = f"redis://127.0.0.1:{closed.getsockname()[1]}/0"
        dropped = publisher.dropped
        task_kick("scoring.tasks.leads_score_pending")
        assert publisher.flush(timeout=30)
        assert publisher.dropped == dropped + 1
    # when: the broker answers again
    app.conf.broker_url = os.environ["MQLAPP_TEST_REDIS_URL"]
    sent = publisher.sent
    task_kick("scoring.tasks.leads_score_pending")
    # then: the next kick is sent
    assert publisher.flush(timeout=30)
    assert publisher.sent == sent + 1
    app.control.purge()
