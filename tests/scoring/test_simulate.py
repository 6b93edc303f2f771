"""POST /api/scoring/simulate/: counts, histogram, newly / no longer qualified, the backtest,
draft rules through the same engine, and nothing written."""

import uuid
from datetime import timedelta
from decimal import Decimal
from unittest.mock import patch

import pytest
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from handoff.models import LeadView, StageTransition
from handoff.selectors import lead_standing
from handoff.services import mql_qualify, policy_update, queue_action
from handoff.simulation import simulation_run
from mqlapp.leads.models import Event
from scoring.models import LeadScore, RescoreJob, ScoreHistory, ScoringState
from scoring.services import (
    CANDIDATE,
    HANDED_OVER,
    WAITING,
    leads_score_enqueue,
    parallel,
    rule_create,
    rules_draft_parse,
    simulate,
)
from scoring.services.histogram import histogram
from tests.conftest import requires_postgres
from tests.factories import lead_make

from .conftest import score_all

pytestmark = pytest.mark.django_db
URL = "/api/scoring/simulate/"
OPEN = {"name": "Open", "kind": "behavior", "event": "Email Opened", "points": 5}
JAPAN = {"name": "Japan", "kind": "fit", "points": 10,
         "conditions": [{"field": "country", "op": "eq", "value": "JP"}]}  # fmt: skip


def _lead(name, country, opens, *, hours_ago=1):
    now = timezone.now()
    lead = lead_make(email=f"{name}@example.com", country=country)
    Event.objects.bulk_create(
        Event(message_id=str(uuid.uuid4()), lead=lead, type="track", name="Email Opened",
              timestamp=now - timedelta(hours=hours_ago + k), received_at=now)
        for k in range(opens)
    )  # fmt: skip
    leads_score_enqueue([lead.pk])
    return lead


@pytest.fixture
def funnel(make_user, api):
    """Live: Open 5, Japan +10, threshold 10. Scores A 25, B 15, C 5, D 0, E 10, F 15;
    A, B qualified; E accepted, qualified, won; F rejected; C, D nurturing."""
    client = api("admin")
    for rule in (OPEN, JAPAN):
        assert client.post("/api/scoring/rules/", rule, format="json").status_code == 201
    policy_update(data={"mql_threshold": 10})
    leads = {
        "A": _lead("a", "JP", 3),
        "B": _lead("b", "JP", 1),
        "C": _lead("c", "US", 1),
        "D": _lead("d", "US", 0),
        "E": _lead("e", "US", 2),
        "F": _lead("f", "JP", 1),
    }
    score_all()
    rep = make_user("sales")
    for action in ("accept", "qualify", "win"):
        queue_action(leads["E"].pk, action, user=rep, data={})
    queue_action(leads["F"].pk, "reject", user=rep, data={"reason": "no_budget"})
    return {key: LeadView.objects.get(pk=lead.pk) for key, lead in leads.items()}


def test_the_funnel_is_as_described(funnel):
    assert {k: (float(v.score), v.stage) for k, v in funnel.items()} == {
        "A": (25.0, "mql"),
        "B": (15.0, "mql"),
        "C": (5.0, "nurturing"),
        "D": (0.0, "nurturing"),
        "E": (10.0, "won"),
        "F": (15.0, "disqualified"),
    }


def test_live_rules_and_threshold_count_what_is_live(funnel, api):
    body = api("marketer").post(URL, {"mql_threshold": 10}, format="json").json()

    assert {k: body[k] for k in ("leads_evaluated", "would_qualify", "currently_mql_or_later",
                                 "newly_qualified", "no_longer_qualified")} == {
        "leads_evaluated": 6, "would_qualify": 4, "currently_mql_or_later": 3,
        "newly_qualified": 0, "no_longer_qualified": 0,
    }  # fmt: skip
    # scores 0, 5, 10, 15, 15, 25 in buckets of 2 points
    assert [(b["from"], b["to"], b["count"]) for b in body["histogram"] if b["count"]] == [
        (0.0, 2.0, 1),
        (4.0, 6.0, 1),
        (10.0, 12.0, 1),
        (14.0, 16.0, 2),
        (24.0, 26.0, 1),
    ]
    assert len(body["histogram"]) == 13
    assert body["backtest"] == {
        "accepted": {"would_qualify": 1, "total": 1},
        "rejected": {"would_qualify": 1, "total": 1},
        "won": {"would_qualify": 1, "total": 1},
        "lost": {"would_qualify": 0, "total": 0},
    }
    assert (body["rules_evaluated"], body["mql_threshold"], body["min_fit"]) == (0, 10.0, None)


def test_a_higher_threshold_shows_who_would_no_longer_qualify(funnel, api):
    body = api("admin").post(URL, {"mql_threshold": 20}, format="json").json()

    assert (body["would_qualify"], body["newly_qualified"], body["no_longer_qualified"]) == (
        1,
        0,
        1,  # B (15, mql, waiting); E (10) is won: in sales' hands, never "no longer"
    )
    assert body["backtest"]["accepted"] == {"would_qualify": 0, "total": 1}
    assert body["backtest"]["rejected"] == {"would_qualify": 0, "total": 1}


def test_draft_rules_are_scored_with_the_engine(funnel, api):
    draft = [{**OPEN, "points": 10}, {**JAPAN, "name": "JP (same definition)"}]

    body = api("marketer").post(URL, {"rules": draft, "mql_threshold": 10}, format="json").json()

    # A 40, B 20, C 10, D 0, E 20, F 20
    assert (body["would_qualify"], body["newly_qualified"], body["no_longer_qualified"]) == (
        5,
        1,  # C, nurturing, now 10
        0,
    )
    assert (body["rules_evaluated"], body["rules_reused"]) == (1, 1)


def test_min_fit_applies(funnel, api):
    body = api("marketer").post(URL, {"mql_threshold": 10, "min_fit": 10}, format="json").json()

    assert (body["would_qualify"], body["min_fit"]) == (3, 10.0)  # A, B, F: Japanese


def test_omitted_threshold_and_min_fit_come_from_the_policy(funnel, api):
    policy_update(data={"mql_threshold": 20, "min_fit": 10})

    body = api("marketer").post(URL, {}, format="json").json()

    assert (body["mql_threshold"], body["min_fit"], body["would_qualify"]) == (20.0, 10.0, 1)
    explicit = api("marketer").post(URL, {"min_fit": None}, format="json").json()
    assert explicit["min_fit"] is None


def test_same_rules_as_drafts_give_the_live_counts(funnel):
    live = simulation_run(rules=None, threshold=Decimal(10), min_fit=None, now=timezone.now())
    renamed = rules_draft_parse([{**OPEN, "name": "x"}, {**JAPAN, "name": "y"}])
    reordered = rules_draft_parse(
        [{**JAPAN, "conditions": [{"field": "country", "op": "in", "value": ["JP"]}]}, OPEN]
    )

    same = simulation_run(rules=renamed, threshold=Decimal(10), min_fit=None, now=timezone.now())
    fresh = simulation_run(rules=reordered, threshold=Decimal(10), min_fit=None, now=timezone.now())

    def counts(result):
        return {k: v for k, v in result.items() if k not in ("as_of", "rules_evaluated",
                                                              "rules_reused")}  # fmt: skip

    assert counts(same) == counts(live)
    assert counts(fresh) == counts(live)  # evaluated from events, not reused
    assert (same["rules_evaluated"], fresh["rules_evaluated"]) == (0, 1)


@pytest.mark.parametrize(
    "fast",
    [
        pytest.param(True, marks=requires_postgres, id="postgres"),
        pytest.param(False, id="portable"),
    ],
)
def test_both_database_paths_agree(funnel, fast):
    draft = rules_draft_parse([{**OPEN, "points": 3, "half_life_days": 1}, JAPAN])

    result = simulation_run(
        rules=draft, threshold=Decimal(12), min_fit=None, now=timezone.now(), fast=fast
    )

    # A 3 × 3 (faded a few hours) + 10 ≈ 18.x, B 12.x, F 12.x; E 5.x, C 2.x, D 0
    assert (result["would_qualify"], result["newly_qualified"]) == (3, 0)
    assert result["no_longer_qualified"] == 0  # E (won) falls below, but sales has it
    assert result["scores_changed"] == 5  # everyone with an open; D (no events) stays 0


def test_the_simulator_writes_nothing(funnel, api):
    def snapshot():
        return (
            list(
                LeadView.objects.order_by("pk").values_list(
                    "pk", "scoring__score", "lifecycle__stage", "scoring__fit"
                )
            ),
            list(LeadScore.objects.order_by("pk").values_list("pk", "as_of", "breakdown")),
            ScoreHistory.objects.count(),
            RescoreJob.objects.count(),
            list(ScoringState.objects.values_list("version", "rules", "updated_at")),
            StageTransition.objects.count(),
        )

    before = snapshot()
    client = api("admin")
    client.post(URL, {"mql_threshold": 1}, format="json")
    client.post(URL, {"rules": [{**OPEN, "points": 100}], "mql_threshold": 1}, format="json")

    assert snapshot() == before


def _accepted(name, opens, make_user):
    """A lead with `opens` opens 48 hours ago (one rule: 5 points an open), handed to sales
    24 hours ago at that score and accepted."""
    policy_update(data={"mql_threshold": 100})
    rule_create(data=OPEN)
    lead = _lead(name, "JP", opens, hours_ago=48)
    score_all()
    handed = timezone.now() - timedelta(hours=24)
    assert mql_qualify(lead.pk, score=Decimal(5 * opens), reason="fast_track", now=handed)
    queue_action(lead.pk, "accept", user=make_user("sales"), data={})
    return lead, handed


def test_backtest_looks_at_the_moment_of_handoff(make_user):
    lead, _ = _accepted("late", 1, make_user)  # one open before the handoff
    now = timezone.now()
    Event.objects.bulk_create(
        Event(message_id=f"after-{k}", lead=lead, type="track", name="Email Opened",
              timestamp=now - timedelta(hours=k), received_at=now)
        for k in range(1, 5)
    )  # fmt: skip
    leads_score_enqueue([lead.pk])
    score_all()
    assert LeadView.objects.get(pk=lead.pk).score == 25  # 5 opens now

    result = simulation_run(
        rules=None,
        threshold=Decimal(20),
        min_fit=None,
        now=now,
    )

    assert result["would_qualify"] == 1  # today: 25
    assert result["backtest"]["accepted"] == {"would_qualify": 0, "total": 1}  # then: 5

    # the rules editor's preview asks for no backtest (it shows none): the rest is the same
    quick = simulation_run(rules=None, threshold=Decimal(20), min_fit=None, now=now, backtest=False)
    assert quick["backtest"]["accepted"] == {"would_qualify": 0, "total": 0}
    assert {k: v for k, v in quick.items() if k != "backtest"} == {
        k: v for k, v in result.items() if k != "backtest"
    }


def test_the_backtest_keeps_each_rule_sets_parts_and_never_reads_a_stale_one(make_user):
    lead, handed = _accepted("kept", 2, make_user)  # two opens before the handoff
    cache.clear()

    def accepted(threshold, rules=None):
        answer = simulation_run(rules=rules, threshold=Decimal(threshold), min_fit=None)
        return answer["backtest"]["accepted"]["would_qualify"]

    # 10 points then: the first call scores it and keeps the parts
    assert (accepted(10), accepted(11)) == (1, 0)

    # a changed rule is evaluated, the others come from the parts: 2 opens at 7 = 14 then
    draft = rules_draft_parse([{**OPEN, "points": 7}])
    assert (accepted(14, draft), accepted(15, draft)) == (1, 0)

    # an open from before the handoff arrives late: the lead is re-scored, and the parts
    # kept for its earlier state are not read again (they would say 10)
    Event.objects.create(
        message_id=str(uuid.uuid4()), lead=lead, type="track", name="Email Opened",
        timestamp=handed - timedelta(hours=1), received_at=timezone.now(),
    )  # fmt: skip
    leads_score_enqueue([lead.pk])
    score_all()
    assert (accepted(15), accepted(16)) == (1, 0)  # three opens at 5 then

    # the parts are what the threshold moves over: with the events gone from the table, the
    # kept parts still answer; from scratch, there is nothing left to count
    Event.objects.filter(lead=lead).delete()
    assert (accepted(15), accepted(16)) == (1, 0)
    cache.clear()
    assert accepted(15) == 0


def test_a_draft_that_keeps_no_published_rule_scores_the_backtest_from_its_own(make_user):
    """Every rule reshaped: nothing of the published rules' scores then is kept, so the
    backtest neither reads nor scores them; each outcome is the draft's alone."""
    _accepted("reshaped", 3, make_user)  # three opens before the handoff
    draft = rules_draft_parse([{**OPEN, "points": 7, "max_times": 2}])  # 14 then

    def accepted(threshold):
        answer = simulation_run(rules=draft, threshold=Decimal(threshold), min_fit=None)
        return answer["backtest"]["accepted"]

    with patch("scoring.services.simulate._live_parts", side_effect=AssertionError):
        assert accepted(14) == {"would_qualify": 1, "total": 1}
        assert accepted(15) == {"would_qualify": 0, "total": 1}


def test_sales_may_not_simulate(api):
    response = api("sales").post(URL, {}, format="json")

    assert response.status_code == 403


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"rules": [OPEN, {**OPEN, "points": "lots"}]},
         {"rules[1].points": ["must be a number, got 'lots'"]}),
        ({"rules": [{**OPEN, "kind": "fit"}]},
         {"rules[0].event": ["is not used by fit rules; leave it out"],
          "rules[0].conditions": ["a fit rule needs at least one condition"]}),
        ({"rules": {"name": "x"}}, {"rules": ["must be a list of rules"]}),
        ({"mql_threshold": "high"}, {"mql_threshold": ["got 'high'"]}),
        ({"min_fit": True}, {"min_fit": ["got True"]}),
        ({"threshold": 10}, {"threshold": ["unknown; use rules, mql_threshold, min_fit"]}),
    ],
    ids=["bad-points", "fit-with-event", "rules-not-list", "threshold-text", "min-fit-bool",
         "unknown-key"],
)  # fmt: skip
def test_bad_input_is_400_naming_the_field(api, body, fields):
    response = api("marketer").post(URL, body, format="json")

    assert response.status_code == 400
    assert response.json()["fields"] == fields


def test_histogram_edges():
    values = [Decimal(v) for v in ("-12.5", "0", "99.99", "100")]

    buckets = histogram(values)

    assert [b["from"] for b in buckets][:2] == [-20.0, -10.0]  # width 10 for a span of 112.5
    assert buckets[-1] == {"from": 100.0, "to": 110.0, "count": 1}
    assert sum(b["count"] for b in buckets) == 4
    assert histogram([]) == []
    assert histogram([Decimal(7)]) == [{"from": 7.0, "to": 8.0, "count": 1}]


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="worker processes need PostgreSQL")
def test_worker_processes_give_the_same_answer(settings):
    rule_create(data=OPEN)
    rule_create(data=JAPAN)
    for i in range(30):
        _lead(f"p{i}", "JP" if i % 2 else "US", i % 4)
    score_all()
    draft = rules_draft_parse([{**OPEN, "points": 4, "half_life_days": 10}, JAPAN])
    now = timezone.now()
    settings.SCORING_SIMULATE_PROCESSES = 1
    alone = simulation_run(rules=draft, threshold=Decimal(12), min_fit=None, now=now)

    settings.SCORING_SIMULATE_PROCESSES = 2
    settings.SCORING_SIMULATE_PARALLEL_MIN_LEADS = 1
    try:
        with patch.object(simulate, "CHUNK", 7):  # several ranges for the processes
            pooled = simulation_run(rules=draft, threshold=Decimal(12), min_fit=None, now=now)
        used_pool = parallel._pool is not None
    finally:
        parallel.pool_shutdown()  # the processes' connections would block the test database

    assert pooled == alone
    assert used_pool
    # the 15 Japanese leads have 1 or 3 opens: 10 + 4 or more; US ones at most 3 × 4 faded
    assert (alone["leads_evaluated"], alone["would_qualify"]) == (30, 15)


def _fast_tracked_below_the_bar():
    """G raised its hand (fast track) with one open: an MQL at 5, under the threshold of 10."""
    g = _lead("g", "US", 1)
    score_all()
    assert mql_qualify(g.pk, score=Decimal(5), reason="fast_track", now=timezone.now())
    return g


def test_a_rule_that_only_adds_points_takes_no_lead_out(funnel):
    # given: E is won at 10, G a fast-track MQL at 5, both under the threshold at some point
    _fast_tracked_below_the_bar()
    bonus = {"name": "Open bonus", "kind": "behavior", "event": "Email Opened", "points": 1,
             "max_times": 1}  # fmt: skip

    # when
    result = simulation_run(
        rules=rules_draft_parse([OPEN, JAPAN, bonus]), threshold=None, now=timezone.now()
    )

    # then: +1 for everyone with an open (A, B, C, E, F, G), nobody out, nobody new (C 6)
    assert (result["no_longer_qualified"], result["scores_changed"]) == (0, 6)
    assert (result["newly_qualified"], result["currently_mql_or_later"]) == (0, 4)


def test_the_live_settings_change_nothing(funnel):
    _fast_tracked_below_the_bar()

    result = simulation_run(rules=None, now=timezone.now())

    assert (result["no_longer_qualified"], result["newly_qualified"]) == (0, 0)
    assert result["scores_changed"] == 0


def test_a_higher_threshold_counts_only_mqls_that_qualified_by_score(funnel, api):
    _fast_tracked_below_the_bar()

    body = api("admin").post(URL, {"mql_threshold": 20}, format="json").json()

    # B (15) waits in the queue by its score: out; E (won) and G (fast track) are not
    assert (body["no_longer_qualified"], body["scores_changed"]) == (1, 0)


def test_each_range_reads_where_its_own_leads_stand(funnel):
    _fast_tracked_below_the_bar()
    now = timezone.now()
    whole = simulation_run(threshold=Decimal(20), now=now)

    with patch.object(simulate, "CHUNK", 1):  # a range per lead: every edge is a range's edge
        split = simulation_run(threshold=Decimal(20), now=now)

    assert split == whole
    # A, B wait (B no longer at 20), E won, G fast-tracked: all counted from their ranges
    assert (whole["currently_mql_or_later"], whole["no_longer_qualified"]) == (4, 1)
    assert lead_standing(funnel["B"].pk, funnel["B"].pk) == {funnel["B"].pk: WAITING}


def test_where_leads_stand_for_the_simulator(funnel):
    g = _fast_tracked_below_the_bar()

    standing = lead_standing()

    assert {key: standing.get(lead.pk) for key, lead in funnel.items()} == {
        "A": WAITING, "B": WAITING, "C": CANDIDATE, "D": CANDIDATE, "E": HANDED_OVER, "F": None,
    }  # fmt: skip
    assert standing[g.pk] == HANDED_OVER


def test_fit_rules_are_scored_once_per_profile_and_still_per_lead(db):
    """Rules that read no events are scored once per distinct value of the fields they read
    (simulate._profiles_evaluate): each lead still gets its own profile's score."""
    from scoring import engine
    from scoring.services.simulate_base import lead_rows

    profiles = [("CTO", 500, {"plan": "pro"}), ("CTO", 20, {"plan": "pro"}),
                ("Engineer", 500, {"plan": "free"}), ("CTO", 500, {"plan": "free"}),
                ("CTO", 500, {}), ("Engineer", 20, {"plan": "pro"})] * 3  # fmt: skip
    ids = [
        lead_make(title=title, employees=size, traits=traits).pk for title, size, traits in profiles
    ]
    draft = rules_draft_parse([
        {"name": "cto", "kind": "fit", "points": 10,
         "conditions": [{"field": "title", "op": "eq", "value": "CTO"}]},
        {"name": "big", "kind": "fit", "points": 7,
         "conditions": [{"field": "employees", "op": "gte", "value": 100}]},
        {"name": "pro", "kind": "fit", "points": 5,
         "conditions": [{"field": "traits.plan", "op": "eq", "value": "pro"}]},
    ])  # fmt: skip
    now = timezone.now()

    result = simulation_run(rules=draft, threshold=Decimal(17), min_fit=None, now=now)

    scores = [engine.evaluate(row.facts(()), draft, now=now).score for row in lead_rows(ids)]
    assert sorted(scores) == sorted([Decimal(22), Decimal(15), Decimal(7), Decimal(17),
                                     Decimal(17), Decimal(5)] * 3)  # fmt: skip
    assert result["would_qualify"] == sum(score >= 17 for score in scores) == 9
    assert result["histogram"] == histogram(scores)


@requires_postgres
@pytest.mark.parametrize("backtest", [True, False])
def test_the_sql_pass_and_the_engine_give_the_same_answer(funnel, backtest):
    """Behaviour rules with a windowed cap and fading, an inactivity rule after an event and
    a fit rule: PostgreSQL counts the first three (for every lead, and for every past
    outcome at its own handoff time), the engine the fit rule; the portable path scores
    all four with the engine."""
    draft = rules_draft_parse([
        {**OPEN, "points": 4, "max_times": 2, "window_days": 1, "half_life_days": 3},
        {"name": "quiet", "kind": "inactivity", "after_event": "Email Opened",
         "watch_events": ["page"], "inactive_days": 0.01, "points": -2},
        {**JAPAN, "points": 7},
    ])  # fmt: skip
    now = timezone.now()

    fast, portable = (
        simulation_run(rules=draft, threshold=Decimal(8), min_fit=None, now=now, fast=fast,
                       backtest=backtest)
        for fast in (True, False)
    )  # fmt: skip

    assert fast == portable
    assert fast["rules_evaluated"] == 3
    if backtest:
        assert sum(kind["total"] for kind in fast["backtest"].values()) == 3  # E twice, F
