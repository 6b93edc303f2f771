"""Behavior rules: matching, caps with and without a window, fading, epoch, future events."""

from __future__ import annotations

from datetime import timedelta

from scoring.engine import Contribution
from tests.scoring.engine.builders import NOW, ago, cond, d, lead, page, rule, score_of, track

PRICING = cond("properties.category", "eq", "pricing")


def test_behavior_counts_each_matching_event():
    # given three pricing downloads, one other category and one other event name
    events = (
        track("Document Downloaded", ago(1), category="pricing"),
        track("Document Downloaded", ago(2), category="Pricing"),
        track("document downloaded ", ago(3), category="PRICING"),
        track("Document Downloaded", ago(4), category="docs"),
        track("Webinar Attended", ago(5), category="pricing"),
    )
    whitepaper = rule(
        id=7,
        name="Pricing whitepaper",
        event="Document Downloaded",
        conditions=[PRICING],
        points=20,
    )

    # when
    result = score_of(lead(*events), whitepaper)

    # then 3 × 20 = 60
    assert result.breakdown == (Contribution(7, "Pricing whitepaper", "behavior", 3, d("60.00")),)
    assert (result.score, result.engagement, result.fit) == (d("60.00"), d("60.00"), d("0.00"))
    assert result.as_of == NOW


def test_page_rule_counts_page_views_only():
    events = (page(ago(1)), page(ago(2)), track("Page Viewed", ago(3)))

    result = score_of(lead(*events), rule(event="page", points=2))

    assert result.score == d("4.00")  # 2 page views × 2


def test_max_times_without_window_counts_the_earliest():
    # given downloads 10, 8, 6, 4 and 2 days ago; only the earliest two count, and
    # the 10-day-old one has expired (expire_after_days 9)
    events = [track("Document Downloaded", ago(age)) for age in (2, 4, 6, 8, 10)]
    capped = rule(event="Document Downloaded", max_times=2, expire_after_days=9)

    result = score_of(lead(*events), capped)

    # then the counted ones are ages 10 (expired: weight 0) and 8 (10 points)
    assert result.breakdown == (Contribution(1, "rule 1", "behavior", 1, d("10.00")),)


def test_max_times_caps_total():
    events = [track("Email Opened", ago(age)) for age in range(1, 6)]

    result = score_of(lead(*events), rule(event="Email Opened", points=4, max_times=3))

    assert result.breakdown[0].count == 3
    assert result.score == d("12.00")  # 3 × 4


def test_once_a_week_over_three_weeks_of_daily_events():
    # given one event a day for 21 days (day 0 .. day 20)
    start = NOW - timedelta(days=21)
    events = [track("Email Opened", start + timedelta(days=k)) for k in range(21)]
    weekly = rule(event="Email Opened", points=5, max_times=1, window_days=7)

    result = score_of(lead(*events), weekly)

    # then days 0, 7 and 14 count (each exactly 7 days after the last counted): 3 × 5 = 15
    assert result.breakdown == (Contribution(1, "rule 1", "behavior", 3, d("15.00")),)


def test_twice_a_week_window_slides():
    start = NOW - timedelta(days=21)
    events = [track("Email Opened", start + timedelta(days=k)) for k in range(21)]
    twice = rule(event="Email Opened", points=1, max_times=2, window_days=7)

    result = score_of(lead(*events), twice)

    # then days 0, 1 | 7 (window (0, 7] holds only day 1), 8 | 14, 15 count: 6 × 1 = 6
    assert (result.breakdown[0].count, result.score) == (6, d("6.00"))


def test_half_life_halves_after_one_half_life_and_quarters_after_two():
    def points_at(age_days: int) -> object:
        facts = lead(track("Document Downloaded", ago(age_days)))
        return score_of(
            facts, rule(event="Document Downloaded", points=20, half_life_days=30)
        ).score

    assert points_at(0) == d("20.00")
    assert points_at(30) == d("10.00")  # 20 × 0.5^(30/30)
    assert points_at(60) == d("5.00")  # 20 × 0.5^(60/30) = 20 / 4
    assert points_at(15) == d("14.14")  # 20 × 0.5^0.5 = 14.1421…


def test_expiry_just_inside_and_just_outside():
    expiring = rule(event="Webinar Attended", points=30, expire_after_days=30)
    inside = lead(track("Webinar Attended", ago(30)))
    outside = lead(track("Webinar Attended", ago(30, seconds=1)))

    assert score_of(inside, expiring).score == d("30.00")  # age 30 d <= 30 d
    assert score_of(outside, expiring).breakdown == ()  # weight 0: not counted at all
    assert score_of(outside, expiring).score == d("0.00")


def test_future_events_count_with_age_zero():
    future = lead(track("Document Downloaded", ago(-2)))

    halving = rule(id=1, event="Document Downloaded", points=20, half_life_days=30)
    expiring = rule(id=2, event="Document Downloaded", points=5, expire_after_days=1)

    assert score_of(future, halving, expiring).score == d("25.00")  # 20 + 5, unfaded


def test_epoch_limits_engagement_but_not_fit():
    epoch = ago(10)
    events = (
        track("Email Opened", ago(11)),
        track("Email Opened", epoch),  # exactly at the epoch: counts
        track("Email Opened", ago(5)),
    )
    facts = lead(*events, country="JP", score_epoch=epoch)
    opens = rule(id=1, event="Email Opened", points=3)
    japan = rule("fit", id=2, points=15, conditions=[cond("country", "eq", "JP")])

    result = score_of(facts, opens, japan)

    # 2 opens × 3 = 6 engagement; fit 15; score 21
    assert (result.engagement, result.fit, result.score) == (d("6.00"), d("15.00"), d("21.00"))


def test_negative_points_subtract():
    facts = lead(track("Unsubscribed", ago(3)), company="Acme")
    unsubscribed = rule(id=1, event="Unsubscribed", points=-50)
    named = rule("fit", id=2, points=30, conditions=[cond("company", "exists")])

    result = score_of(facts, unsubscribed, named)

    assert result.breakdown == (
        Contribution(1, "rule 1", "behavior", 1, d("-50.00")),
        Contribution(2, "rule 2", "fit", 1, d("30.00")),
    )
    assert (result.engagement, result.fit, result.score) == (d("-50.00"), d("30.00"), d("-20.00"))


def test_inactive_rules_and_unmatched_rules_leave_no_trace():
    facts = lead(track("Email Opened", ago(1)))
    off = rule(id=1, event="Email Opened", points=10, active=False)
    unmatched = rule(id=2, event="Demo Requested", points=50)

    result = score_of(facts, off, unmatched)

    assert result.breakdown == ()
    assert result.score == d("0.00")


def test_duplicate_message_ids_count_once():
    first = track("Demo Requested", ago(1), id="msg-1")
    retry = track("Demo Requested", ago(1), id="msg-1")

    result = score_of(lead(first, retry), rule(event="Demo Requested", points=50))

    assert (result.breakdown[0].count, result.score) == (1, d("50.00"))


def test_window_boundary_exactly_window_days_later_counts_again():
    weekly = rule(event="Email Opened", points=5, max_times=1, window_days=7)
    week_apart = lead(track("Email Opened", ago(8)), track("Email Opened", ago(1)))
    just_inside = lead(track("Email Opened", ago(8)), track("Email Opened", ago(1, seconds=1)))

    assert score_of(week_apart, weekly).score == d("10.00")  # 7 d apart: t' = t - 7 d is outside
    assert score_of(just_inside, weekly).score == d("5.00")  # 7 d − 1 s apart: inside the window


def test_conflicting_copies_of_one_message_keep_the_earliest_in_any_order():
    early = track("Webinar Attended", ago(40), id="msg-1")
    late = track("Webinar Attended", ago(10), id="msg-1")
    expiring = rule(event="Webinar Attended", points=30, expire_after_days=30)

    assert score_of(lead(early, late), expiring).breakdown == ()  # the 40-day-old copy: expired
    assert score_of(lead(late, early), expiring).breakdown == ()
