"""What a long-running server process (a gunicorn worker, a Celery worker) sets for itself."""

import gc

from django.conf import settings


def process_tune() -> None:
    """Python's cyclic garbage collector runs its youngest pass every GC_THRESHOLD container
    objects allocated (Python's default: 700). Reading a 500-message request or inbox row
    allocates tens of thousands of dicts and lists that live until the batch is stored, so at
    700 each is scanned again and again on its way to the oldest generation: expanding
    100,000 events spent a quarter of its Python time in the collector (docs/benchmarks.md).
    Cycles are still collected, a little later. 0 keeps Python's default."""
    threshold = settings.GC_THRESHOLD
    if threshold > 0:
        _, older, oldest = gc.get_threshold()
        gc.set_threshold(threshold, older, oldest)
