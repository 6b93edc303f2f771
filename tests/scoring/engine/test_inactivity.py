"""Inactivity rules, with and without after_event: applied, not yet due, lifted."""

from __future__ import annotations

import pytest

from scoring.engine import Contribution, EventFact, Scorer
from tests.scoring.engine.builders import NOW, ago, cond, d, lead, page, rule, score_of, track

DOWNLOAD = "Document Downloaded"
# The SPEC's example: a download followed by no page view or email open within 14 days.
WENT_QUIET = rule(
    "inactivity",
    id=3,
    name="Went quiet after download",
    points=-10,
    after_event=DOWNLOAD,
    watch_events=["page", "Email Opened"],
    inactive_days=14,
)
PENALTY = (Contribution(3, "Went quiet after download", "inactivity", 1, d("-10.00")),)


def test_penalty_applies_when_nothing_followed_the_download():
    result = score_of(lead(track(DOWNLOAD, ago(20))), WENT_QUIET)

    assert result.breakdown == PENALTY
    assert (result.engagement, result.score) == (d("-10.00"), d("-10.00"))


def test_not_yet_due_before_inactive_days_have_passed():
    assert score_of(lead(track(DOWNLOAD, ago(10))), WENT_QUIET).breakdown == ()


def test_due_exactly_at_inactive_days():
    assert score_of(lead(track(DOWNLOAD, ago(14))), WENT_QUIET).breakdown == PENALTY


def test_watch_event_within_the_window_lifts_it():
    facts = lead(track(DOWNLOAD, ago(20)), page(ago(15)))  # page 5 days after

    assert score_of(facts, WENT_QUIET).breakdown == ()


def test_watch_event_exactly_at_the_window_end_lifts_it():
    facts = lead(track(DOWNLOAD, ago(20)), track("Email Opened", ago(6)))  # 14 days after

    assert score_of(facts, WENT_QUIET).breakdown == ()


def test_watch_event_after_the_window_does_not_lift_it():
    facts = lead(track(DOWNLOAD, ago(30)), page(ago(10)))  # 20 days after: too late

    assert score_of(facts, WENT_QUIET).breakdown == PENALTY


def test_unwatched_event_does_not_lift_it():
    facts = lead(track(DOWNLOAD, ago(20)), track("Webinar Attended", ago(15)))

    assert score_of(facts, WENT_QUIET).breakdown == PENALTY


def test_later_download_followed_by_activity_lifts_it():
    # the first download went quiet; the second was followed by a page view
    facts = lead(track(DOWNLOAD, ago(40)), track(DOWNLOAD, ago(20)), page(ago(18)))

    assert score_of(facts, WENT_QUIET).breakdown == ()


def test_later_download_without_activity_applies_it_again():
    facts = lead(track(DOWNLOAD, ago(40)), page(ago(38)), track(DOWNLOAD, ago(20)))

    assert score_of(facts, WENT_QUIET).breakdown == PENALTY


def test_no_after_event_means_nothing():
    assert score_of(lead(page(ago(30))), WENT_QUIET).breakdown == ()


def test_empty_watch_events_means_any_other_event_lifts_it():
    quiet = rule("inactivity", points=-5, after_event=DOWNLOAD, inactive_days=14)

    lifted = lead(track(DOWNLOAD, ago(20)), track("Webinar Attended", ago(19)))
    quiet_lead = lead(track(DOWNLOAD, ago(20)))

    assert score_of(lifted, quiet).breakdown == ()
    assert score_of(quiet_lead, quiet).score == d("-5.00")


def test_after_event_conditions_pick_the_anchor():
    # the pricing download 20 days ago is the anchor; the docs download 5 days ago is not
    pricing_quiet = rule(
        "inactivity",
        points=-7,
        after_event=DOWNLOAD,
        conditions=[cond("properties.category", "eq", "pricing")],
        watch_events=["page"],
        inactive_days=14,
    )
    facts = lead(
        track(DOWNLOAD, ago(20), category="pricing"), track(DOWNLOAD, ago(5), category="docs")
    )

    assert score_of(facts, pricing_quiet).score == d("-7.00")


def test_events_before_the_epoch_are_ignored():
    facts = lead(track(DOWNLOAD, ago(20)), score_epoch=ago(19))

    assert score_of(facts, WENT_QUIET).breakdown == ()


def test_without_after_event_the_last_watched_event_must_be_old_enough():
    dormant = rule("inactivity", points=-5, watch_events=["page"], inactive_days=30)

    assert score_of(lead(page(ago(45)), page(ago(30))), dormant).score == d("-5.00")
    assert score_of(lead(page(ago(45)), page(ago(29))), dormant).breakdown == ()
    # emails are not watched: the last page view is what counts
    assert score_of(lead(page(ago(40)), track("Email Opened", ago(1))), dormant).score == d("-5.00")
    assert score_of(lead(track("Email Opened", ago(40))), dormant).breakdown == ()


def test_without_after_event_or_watch_events_any_event_counts():
    dormant = rule("inactivity", points=-5, inactive_days=30)

    assert score_of(lead(track("Anything", ago(31))), dormant).score == d("-5.00")
    assert score_of(lead(track("Anything", ago(31)), page(ago(2))), dormant).breakdown == ()
    assert score_of(lead(), dormant).breakdown == ()


CALLS = ["identify", "group", "alias"]


def call(type_: str, days_ago: float) -> EventFact:
    return EventFact(f"m-{type_}-{days_ago}", type_, "", ago(days_ago), {"plan": "pro"}, {})


@pytest.mark.parametrize("type_", CALLS)
def test_identify_group_and_alias_calls_are_not_activity(type_):
    # the example: a page view 30 days ago, then only a call a day ago, and the rule
    # "14 days inactive, -10" (no watch_events): 30 days without activity, so -10
    dormant = rule(kind="inactivity", id=4, name="Dormant", inactive_days=14, points=-10)
    quiet = lead(page(ago(30)), call(type_, 1))

    expected = (Contribution(4, "Dormant", "inactivity", 1, d("-10.00")),)
    assert score_of(quiet, dormant).breakdown == expected
    assert Scorer([dormant]).evaluate(quiet, now=NOW).breakdown == expected
    # and a page view a day ago is activity: no penalty
    assert score_of(lead(page(ago(30)), page(ago(1))), dormant).breakdown == ()


@pytest.mark.parametrize("type_", CALLS)
def test_a_call_after_the_anchor_does_not_lift_the_silence(type_):
    # a download 20 days ago, then only a call 10 days ago: still silence after the download
    quiet = rule("inactivity", id=5, name="Quiet", points=-5, after_event=DOWNLOAD,
                 inactive_days=14)  # fmt: skip
    facts = lead(track(DOWNLOAD, ago(20)), call(type_, 10))

    expected = (Contribution(5, "Quiet", "inactivity", 1, d("-5.00")),)
    assert score_of(facts, quiet).breakdown == expected
    assert Scorer([quiet]).evaluate(facts, now=NOW).breakdown == expected


@pytest.mark.parametrize("type_", CALLS)
def test_a_lead_with_only_calls_has_no_activity_to_age(type_):
    dormant = rule(kind="inactivity", inactive_days=14, points=-10)
    facts = lead(call(type_, 60), call(type_, 30))

    assert score_of(facts, dormant).breakdown == ()
    assert Scorer([dormant]).evaluate(facts, now=NOW).breakdown == ()
