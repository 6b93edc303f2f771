"""The lifecycle rules without a database: the transition table, webhook events, the SLA."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db.models import Q

from handoff.lifecycle import (
    EVENT_FOR_MOVE,
    HANDED_OVER_STAGES,
    NEEDS_REASON,
    QUEUE_ACTIONS,
    REASONS,
    TRANSITIONS,
    WEBHOOK_EVENTS,
    Stage,
    allowed_actions,
    is_overdue,
    overdue_q,
    sla_due,
    transition_target,
)

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)

# SPEC §5, written out by hand: (action, from stage) -> the stage it leads to. Every pair not
# listed is refused (409 with the stage named). `claim` takes an MQL from the pool and keeps
# the stage; `qualify_mql` and `reapproach` are the system's moves, not queue actions.
MOVES = {
    ("qualify_mql", "nurturing"): "mql",
    ("claim", "mql"): "mql",
    ("accept", "mql"): "sal",
    ("qualify", "sal"): "sql",
    ("win", "sql"): "won",
    ("lose", "sql"): "lost",
    ("reject", "mql"): "disqualified",
    ("reject", "sal"): "disqualified",
    ("recycle", "mql"): "recycled",
    ("recycle", "sal"): "recycled",
    ("recycle", "sql"): "recycled",
    ("recycle", "lost"): "recycled",
    ("reapproach", "recycled"): "nurturing",
}
STAGES = ("nurturing", "mql", "sal", "sql", "won", "lost", "recycled", "disqualified")
ACTIONS = (
    "qualify_mql",
    "claim",
    "accept",
    "qualify",
    "win",
    "lose",
    "reject",
    "recycle",
    "reapproach",
)
# What a user may do from each stage, in the order the queue offers the actions.
ALLOWED = {
    "nurturing": [],
    "mql": ["claim", "accept", "reject", "recycle"],
    "sal": ["qualify", "reject", "recycle"],
    "sql": ["win", "lose", "recycle"],
    "won": [],
    "lost": ["recycle"],
    "recycled": [],
    "disqualified": [],
}


def test_the_stages_and_actions_are_the_ones_the_spec_names():
    assert tuple(Stage.values) == STAGES
    assert tuple(TRANSITIONS) == ACTIONS
    assert QUEUE_ACTIONS == ("claim", "accept", "qualify", "win", "lose", "reject", "recycle")


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("stage", STAGES)
def test_transition_target_for_every_stage_and_action(stage, action):
    assert transition_target(action, stage) == MOVES.get((action, stage))


def test_an_unknown_action_is_a_key_error_not_a_refusal():
    with pytest.raises(KeyError):
        transition_target("promote", "mql")


@pytest.mark.parametrize("stage", STAGES)
def test_allowed_actions_for_every_stage(stage):
    assert allowed_actions(stage) == ALLOWED[stage]


def test_allowed_actions_of_an_unknown_stage_is_empty():
    assert allowed_actions("archived") == []


def test_each_move_fires_its_webhook_event_and_claim_and_reapproach_fire_none():
    assert EVENT_FOR_MOVE == {
        "qualify_mql": "lead.mql",
        "accept": "lead.accepted",
        "qualify": "lead.qualified",
        "win": "lead.won",
        "lose": "lead.lost",
        "reject": "lead.rejected",
        "recycle": "lead.recycled",
    }
    assert "claim" not in EVENT_FOR_MOVE
    assert "reapproach" not in EVENT_FOR_MOVE


def test_webhook_events_are_the_seven_of_the_spec_once_each():
    assert WEBHOOK_EVENTS == (
        "lead.mql",
        "lead.accepted",
        "lead.qualified",
        "lead.won",
        "lead.lost",
        "lead.rejected",
        "lead.recycled",
    )


def test_reject_and_recycle_need_a_reason_from_the_spec_list():
    assert {"reject", "recycle"} == NEEDS_REASON
    assert REASONS == (
        "no_budget",
        "no_authority",
        "no_need",
        "bad_timing",
        "bad_contact_data",
        "competitor",
        "student_or_job_seeker",
        "other",
    )


def test_handed_over_stages_are_mql_and_later_on_the_main_line():
    assert {"mql", "sal", "sql", "won", "lost"} == HANDED_OVER_STAGES


# --- the SLA ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hours", "due"),
    [
        (24, datetime(2025, 6, 2, 12, 0, tzinfo=UTC)),
        (Decimal("0.5"), datetime(2025, 6, 1, 12, 30, tzinfo=UTC)),
        (Decimal("1.25"), datetime(2025, 6, 1, 13, 15, tzinfo=UTC)),
        (0.1, datetime(2025, 6, 1, 12, 6, tzinfo=UTC)),
        (Decimal("0.001"), datetime(2025, 6, 1, 12, 0, 3, 600000, tzinfo=UTC)),
        (Decimal("72"), datetime(2025, 6, 4, 12, 0, tzinfo=UTC)),
    ],
)
def test_sla_due_adds_the_hours_fractions_included(hours, due):
    assert sla_due(NOW, hours=hours) == due


def test_sla_due_keeps_the_time_zone_of_now():
    tokyo = datetime(2025, 6, 1, 21, 0, tzinfo=ZoneInfo("Asia/Tokyo"))
    due = sla_due(tokyo, hours=Decimal("1.5"))
    assert (due.hour, due.minute, due.tzinfo) == (22, 30, ZoneInfo("Asia/Tokyo"))
    assert due == datetime(2025, 6, 1, 13, 30, tzinfo=UTC)


def test_an_mql_is_overdue_at_its_due_time_and_after_it_not_before():
    due = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)
    assert is_overdue("mql", due, now=due - timedelta(microseconds=1)) is False
    assert is_overdue("mql", due, now=due) is True
    assert is_overdue("mql", due, now=due + timedelta(seconds=1)) is True
    assert is_overdue(Stage.MQL, due, now=due + timedelta(days=30)) is True


def test_an_mql_without_a_due_time_is_never_overdue():
    assert is_overdue("mql", None, now=NOW) is False


@pytest.mark.parametrize("stage", [s for s in STAGES if s != "mql"])
def test_only_mqls_wait_on_sales_so_other_stages_are_never_overdue(stage):
    long_past = NOW - timedelta(days=365)
    assert is_overdue(stage, long_past, now=NOW) is False


def test_overdue_q_filters_mqls_due_at_or_before_now():
    assert overdue_q(NOW) == Q(stage="mql", sla_due_at__lte=NOW)
    assert overdue_q(NOW, prefix="lifecycle__") == Q(
        lifecycle__stage="mql", lifecycle__sla_due_at__lte=NOW
    )


def test_overdue_q_is_a_plain_and_of_two_conditions():
    q = overdue_q(NOW, prefix="lifecycle__")
    assert (q.connector, q.negated) == (Q.AND, False)
    assert sorted(q.children) == [
        ("lifecycle__sla_due_at__lte", NOW),
        ("lifecycle__stage", "mql"),
    ]
