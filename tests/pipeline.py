"""The pipeline as tests drive it in-process: score queued leads, then qualify (what the
scoring task and the handoff task do one after the other on a worker)."""

from typing import Any

from handoff.qualify import leads_qualify
from handoff.qualify import leads_qualify_pending as _qualify_pending
from scoring.services import leads_score_pending as _score_pending

__all__ = ["leads_qualify", "leads_score_pending"]


def leads_score_pending(*, limit: int = 200, **kwargs: Any) -> int:
    """One scoring batch, then every qualification it queued; returns the batch size."""
    done = _score_pending(limit=limit, **kwargs)
    while _qualify_pending(limit=500):
        pass
    return done
