"""The simulator's draft rules that differ from a published rule in their points only
(scoring/services/simulate_points.py) are answered from the stored scores, and equal the
engine, lead by lead, on generated leads, events, rules and drafts on real PostgreSQL: every
lead the pass answers for gets the engine's summed contribution of those rules at `now`; it
declines leads whose stored score cannot say (stale, waiting to be scored, a discrete change
come, a half cent), and the whole simulation equals the engine's."""

from __future__ import annotations

import random
import uuid
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from mqlapp.leads.models import Event
from scoring import engine
from scoring.models import LeadScore, ScoreQueue
from scoring.services import leads_score, leads_score_enqueue, rule_create, rules_live
from scoring.services.loader import events_load
from scoring.services.simulate import OUTCOME_KINDS, Outcome, scores_simulate
from scoring.services.simulate_base import lead_rows
from scoring.services.simulate_points import Moved, points_split, repointed_contributions
from tests.conftest import requires_postgres
from tests.factories import lead_make

pytestmark = [pytest.mark.django_db, requires_postgres]

NAMES = ["Document Downloaded", "Email Opened", "Seminar Attended"]
TITLES = ["Manager", "部長", "Engineer", ""]


def _rule_data(rng: random.Random, index: int) -> dict:
    """A published rule of any kind: counted, capped in a window, fading, expiring, fit,
    inactivity."""
    kind = rng.choice(["plain", "window", "fading", "fading", "expire", "fit", "idle"])
    data: dict = {"name": f"rule {index}", "points": rng.choice([20, 2.5, -7.35, 1, 0.01, 33])}
    if kind == "fit":
        condition = rng.choice(
            [
                {"field": "title", "op": "in", "value": ["Manager", "部長"]},
                {"field": "employees", "op": "gte", "value": 100},
            ]
        )
        return {**data, "kind": "fit", "conditions": [condition]}
    if kind == "idle":
        return {**data, "kind": "inactivity", "after_event": rng.choice(NAMES),
                "watch_events": ["page"], "inactive_days": rng.choice([1, 3, 14])}  # fmt: skip
    data.update(kind="behavior", event=rng.choice([*NAMES, "page"]))
    if rng.random() < 0.3:
        data["conditions"] = [{"field": "properties.category", "op": "eq", "value": "pricing"}]
    if kind == "window":
        data.update(max_times=rng.choice([1, 3]), window_days=rng.choice([1, 7]))
    elif rng.random() < 0.4:
        data["max_times"] = rng.choice([1, 3])
    if kind == "fading":
        data["half_life_days"] = rng.choice([0.5, 3, 30, 45])
    if kind == "expire":
        data["expire_after_days"] = rng.choice([1, 7, 2.5])
    return data


def _leads(rng: random.Random, now, count: int) -> list[int]:
    ids, rows = [], []
    for _ in range(count):
        lead = lead_make(title=rng.choice(TITLES), employees=rng.choice([None, 20, 100, 900]))
        ids.append(lead.pk)
        for _ in range(rng.randint(0, 10)):
            kind = rng.choice(["track", "track", "page"])
            # whole hours and half hours: ties, and ages at an expiry's edge
            at = now - timedelta(hours=rng.randint(-12, 30 * 24), minutes=rng.choice([0, 30]))
            rows.append(Event(
                message_id=str(uuid.UUID(int=rng.getrandbits(128))), lead_id=lead.pk,
                type=kind, name=rng.choice(NAMES) if kind == "track" else "",
                timestamp=at, received_at=now,
                properties={"category": rng.choice(["pricing", "docs"])},
            ))  # fmt: skip
    Event.objects.bulk_create(rows)
    return ids


def _draft(rng: random.Random, live: list[engine.Rule]) -> list[engine.Rule]:
    """The live rules, some with other points (and ids of their own, as a draft has)."""
    draft = []
    for rule in live:
        points = rule.points
        if rng.random() < 0.7:
            points = Decimal(rng.choice(["0", "1", "4.5", "-3", "12.34", "50"]))
        draft.append(replace(rule, id=1000 + rule.id, points=points))
    return draft


def _scored(rng: random.Random, *, rules: int, leads: int, since) -> list[int]:
    """Published rules, and leads with events scored by them at `since` (none queued)."""
    for index in range(rules):
        rule_create(data=_rule_data(rng, index))
    ids = _leads(rng, since, leads)
    leads_score(ids, now=since)
    ScoreQueue.objects.all().delete()
    return ids


@pytest.mark.parametrize("seed", range(10))
def test_each_answered_lead_gets_the_engines_contribution_of_the_repointed_rules(seed):
    rng = random.Random(seed)
    since = timezone.now().replace(microsecond=0) - timedelta(days=1)
    ids = _scored(rng, rules=4, leads=30, since=since)
    queued = ids[0]
    leads_score_enqueue([queued])  # waiting to be scored: its stored score cannot say
    version, live = rules_live()
    draft = _draft(rng, live)
    repointed, rest = points_split(draft, live)
    assert not rest
    assert len(repointed) == len(draft)
    now = since + timedelta(hours=rng.choice([0, 1, 5, 30]), minutes=rng.choice([0, 17]))

    moved = repointed_contributions(
        repointed, low=min(ids), high=max(ids), now=now, version=version
    )

    declined = moved.declined
    assert queued in declined
    # what the published rules stored, declined or not: what the draft takes out
    for score in LeadScore.objects.filter(lead_id__in=ids):
        parts = [item for item in score.breakdown]
        stored = sum((Decimal(str(item["points"])) for item in parts), Decimal(0))
        stored_fit = sum(
            (Decimal(str(i["points"])) for i in parts if i["kind"] == "fit"), Decimal(0)
        )
        assert moved.stored.get(score.lead_id, (0, 0)) == (stored, stored_fit)
    events = events_load(ids, plan=engine.needs(draft), fast=True)
    scorer = engine.Scorer(draft)
    answered = 0
    for row in lead_rows(ids):
        if row.id in declined:
            continue
        answered += 1
        expected = scorer.evaluate(row.facts(events.get(row.id, ())), now=now)
        assert moved.found.get(row.id, (0, 0)) == (expected.score, expected.fit), (
            row.id, draft, now,
        )  # fmt: skip
    assert answered >= 15


def test_a_lead_whose_discrete_change_has_come_goes_to_the_engine():
    rule_create(data={"name": "Expiring", "kind": "behavior", "event": "Demo Requested",
                      "points": 10, "expire_after_days": 1})  # fmt: skip
    now = timezone.now()
    lead = lead_make()
    Event.objects.create(message_id="e1", lead_id=lead.pk, type="track", name="Demo Requested",
                         timestamp=now - timedelta(hours=12), received_at=now)  # fmt: skip
    leads_score([lead.pk], now=now)
    ScoreQueue.objects.all().delete()
    version, live = rules_live()
    repointed, _ = points_split([replace(live[0], points=Decimal(3))], live)

    before = repointed_contributions(repointed, low=lead.pk, high=lead.pk, now=now,
                                     version=version)  # fmt: skip
    later = now + timedelta(hours=13)  # the event has expired
    after = repointed_contributions(repointed, low=lead.pk, high=lead.pk, now=later,
                                    version=version)  # fmt: skip
    stale = repointed_contributions(repointed, low=lead.pk, high=lead.pk, now=now,
                                    version=version + 1)  # fmt: skip

    stored = {lead.pk: (Decimal("10.00"), Decimal(0))}
    assert before == Moved(stored, {lead.pk: (Decimal("3.00"), Decimal(0))}, set())
    assert after == Moved(stored, {}, {lead.pk})
    assert stale == Moved(stored, {}, {lead.pk})


def test_only_rules_equal_but_for_their_points_are_repointed():
    rule_create(data={"name": "Open", "kind": "behavior", "event": "Email Opened", "points": 5,
                      "half_life_days": 30})  # fmt: skip
    _, live = rules_live()
    other_points = replace(live[0], id=7, name="renamed", points=Decimal(9))
    other_half_life = replace(live[0], half_life_days=Decimal(10))
    inactive = replace(live[0], points=Decimal(2), active=False)
    # points in fractions of a cent: the engine rounds each event's sum; the pass counts cents
    fraction = replace(live[0], points=Decimal("1.005"))

    repointed, rest = points_split([other_points, other_half_life, inactive, fraction], live)

    assert [(item.live_id, item.rule) for item in repointed] == [(live[0].id, other_points)]
    assert rest == (other_half_life, inactive, fraction)


@pytest.mark.parametrize("seed", range(3))
def test_a_points_only_draft_simulates_as_the_engine_does(seed):
    """The whole simulation, the backtest included, with the stored-score pass and without
    it (every draft rule evaluated from the events by the engine): the same answer at every
    threshold."""
    rng = random.Random(100 + seed)
    now = timezone.now().replace(microsecond=0)
    ids = _scored(rng, rules=5, leads=40, since=now - timedelta(hours=3))
    _, live = rules_live()
    draft = _draft(rng, live)
    live_points = {rule.id: rule.points for rule in live}
    # past handoffs: each a moment in the last 20 days (the backtest scores the lead then)
    outcomes = [
        Outcome(lead_id, rng.choice(OUTCOME_KINDS), now - timedelta(hours=rng.randint(0, 480)),
                None)
        for lead_id in ids[::2]
    ]  # fmt: skip

    def run(fast, threshold):
        return scores_simulate(rules=draft, threshold=Decimal(threshold), min_fit=None,
                               outcomes=outcomes, now=now, fast=fast)  # fmt: skip

    for threshold in (-5, 0, 5, 15, 30, 60):
        with_pass, engine_only = run(True, threshold), run(False, threshold)
        assert with_pass == engine_only, threshold
    assert sum(part["total"] for part in with_pass["backtest"].values()) == len(outcomes)
    changed = {rule.id for rule in live} - {
        rule.id - 1000 for rule in draft if rule.points == live_points[rule.id - 1000]
    }
    assert with_pass["rules_evaluated"] == len(changed) > 0


def test_a_published_rule_copied_twice_with_other_points_counts_twice():
    rng = random.Random(7)
    now = timezone.now().replace(microsecond=0)
    ids = _scored(rng, rules=3, leads=30, since=now - timedelta(hours=2))
    _, live = rules_live()
    draft = [*live, *(replace(rule, id=2000 + rule.id, points=rule.points + 3) for rule in live),
             *(replace(rule, id=3000 + rule.id, points=Decimal(-1)) for rule in live)]  # fmt: skip
    outcomes = [Outcome(lead_id, "won", now - timedelta(days=1), None) for lead_id in ids[::3]]

    def run(fast):
        return scores_simulate(rules=draft, threshold=Decimal(10), min_fit=None,
                               outcomes=outcomes, now=now, fast=fast)  # fmt: skip

    assert run(True) == run(False)
    assert run(True)["rules_evaluated"] == 2 * len(live)
