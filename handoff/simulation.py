"""Setting up a simulation (one definition for the API, the policy page and the rules editor):
the draft and threshold against every lead, where each lead stands with sales, the backtest."""

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone

from scoring import engine
from scoring.services import scores_simulate

from .backtest import backtest_outcomes
from .selectors import lead_standing
from .services import policy_get

_POLICY: Any = object()  # "as the policy says"


def simulation_run(
    *,
    rules: Sequence[engine.Rule] | None = None,
    threshold: Decimal | None = None,
    min_fit: Any = _POLICY,
    now: datetime | None = None,
    fast: bool | None = None,
    backtest: bool = True,
) -> dict[str, Any]:
    """What `rules` (None: the live ones) at `threshold` and `min_fit` (default: the policy's)
    would do; writes nothing. `backtest=False` skips the past outcomes (their totals are 0):
    the rules editor's preview shows none, and they are a second of its time at 100,000
    leads (docs/benchmarks.md)."""
    policy = policy_get()
    return scores_simulate(
        rules=rules,
        threshold=policy.mql_threshold if threshold is None else threshold,
        min_fit=policy.min_fit if min_fit is _POLICY else min_fit,
        outcomes=backtest_outcomes() if backtest else (),
        standing=lead_standing,  # asked per range, in the process that simulates it
        now=now or timezone.now(),
        fast=fast,
        live_threshold=policy.mql_threshold,
        live_min_fit=policy.min_fit,
    )
