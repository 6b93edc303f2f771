"""A web or worker process raises the garbage collector's threshold (mqlapp/leads/process.py)."""

import gc
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection
from django.test import override_settings

from mqlapp.celery import tune

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def threshold() -> Iterator[None]:
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield
    gc.set_threshold(*before)


def test_a_celery_worker_sets_the_threshold_before_its_pool_forks(threshold: None) -> None:
    from celery.signals import worker_init

    assert tune in [receiver() for _, receiver in worker_init.receivers]
    with override_settings(GC_THRESHOLD=12_345):
        tune()
    assert gc.get_threshold() == (12_345, 10, 10)


def test_zero_keeps_pythons_default(threshold: None) -> None:
    with override_settings(GC_THRESHOLD=0):
        tune()
    assert gc.get_threshold() == (700, 10, 10)


def test_the_wsgi_application_sets_the_threshold_in_its_process() -> None:
    env = {**os.environ, "GC_THRESHOLD": "23456", "SECRET_KEY": "t" * 50}
    code = "import gc, mqlapp.wsgi; print(gc.get_threshold()[0])"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split()[-1] == "23456"


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="worker processes need PostgreSQL")
def test_the_simulators_worker_processes_set_the_threshold(settings) -> None:
    from scoring.services import parallel

    settings.SCORING_SIMULATE_PROCESSES = 2
    settings.SCORING_SIMULATE_PARALLEL_MIN_LEADS = 1
    try:
        answers = parallel.parallel_map(gc.get_threshold, [(), ()], leads=1)
        used_pool = parallel._pool is not None
    finally:
        parallel.pool_shutdown()

    assert used_pool
    assert [first for first, _, _ in answers] == [settings.GC_THRESHOLD] * 2
