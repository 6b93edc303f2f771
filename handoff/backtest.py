"""Past sales outcomes for the simulator's backtest, read from the stage history."""

from collections import defaultdict
from datetime import datetime

from scoring.services import Outcome

from .lifecycle import Stage
from .models import StageTransition

OUTCOME_OF_STAGE: dict[str, str] = {
    Stage.SAL.value: "accepted",
    Stage.DISQUALIFIED.value: "rejected",
    Stage.WON.value: "won",
    Stage.LOST.value: "lost",
}


def backtest_outcomes() -> list[Outcome]:
    """Each lead sales accepted, rejected, won or lost (the latest time per kind), with the
    moment it was handed to sales (the MQL of that cycle) and its score epoch then."""
    rows = (
        StageTransition.objects.filter(to_stage__in=[*OUTCOME_OF_STAGE, Stage.MQL, Stage.RECYCLED])
        .order_by("lead_id", "at", "id")
        .values_list("lead_id", "to_stage", "at", "cycle")
    )
    mql_at: dict[tuple[int, int], datetime] = {}
    recycled: dict[int, list[datetime]] = defaultdict(list)
    latest: dict[tuple[int, str], tuple[datetime, int]] = {}
    for lead_id, stage, at, cycle in rows.iterator(5000):
        if stage == Stage.MQL:
            mql_at.setdefault((lead_id, cycle), at)
        elif stage == Stage.RECYCLED:
            recycled[lead_id].append(at)  # a recycle moves the score epoch to its time
        else:
            latest[(lead_id, OUTCOME_OF_STAGE[stage])] = (at, cycle)
    outcomes = []
    for (lead_id, kind), (at, cycle) in sorted(latest.items()):
        handed = mql_at.get((lead_id, cycle), at)
        epochs = [moment for moment in recycled[lead_id] if moment < handed]
        outcomes.append(Outcome(lead_id, kind, handed, max(epochs) if epochs else None))
    return outcomes
