"""The simulator's SQL pass for draft behaviour rules (scoring/services/simulate_sql.py)
equals the engine, lead by lead, on generated events and rules on real PostgreSQL: every
lead it answers for gets the engine's contribution to the cent, and it declines only leads
it cannot answer exactly (a track name only Python folds, a total at a half cent)."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from mqlapp.leads.models import Event
from scoring import engine
from scoring.engine import Condition, Rule, Scorer
from scoring.services.loader import events_load
from scoring.services.simulate_sql import contributions, rules_split
from tests.conftest import requires_postgres
from tests.factories import lead_make, score_set

pytestmark = [pytest.mark.django_db, requires_postgres]

NAMES = ["Document Downloaded", "document downloaded", "Email Opened", "Straße"]
# a name only Python's folding matches (its lead goes to the engine): now and then
RARE_NAME = "Document Downloaded "
VALUES = ["pricing", "Pricing", "PRICING ", "docs", "", "250", " 250 ", 250, 250.0, 2.5, True,
          None, ["pricing"], {"a": 1}]  # fmt: skip
EXPECTED = ["pricing", "250", 250, True, "", "pri", ["pricing", "docs"], 0]


def _rule(rng: random.Random, rule_id: int) -> Rule:
    conditions = tuple(
        Condition(
            rng.choice(["properties.category", "properties.doc.lang", "context.page.path"]),
            rng.choice(sorted(engine.OPS)),
            rng.choice(EXPECTED),
        )
        for _ in range(rng.choice([0, 0, 1, 2]))
    )
    fading = rng.choice(["none", "half", "expire", "both"])
    return Rule(
        rule_id, f"rule {rule_id}", "behavior",
        Decimal(rng.choice(["20", "2.5", "-7.35", "1", "0.01", "33.333"])),
        event=rng.choice(["Document Downloaded", "page", "Email Opened"]),
        conditions=conditions, max_times=rng.choice([None, None, 0, 1, 3]),
        half_life_days=Decimal(rng.choice(["0.5", "3", "30", "45"]))
        if fading in ("half", "both") else None,
        expire_after_days=Decimal(rng.choice(["1", "7", "2.5"]))
        if fading in ("expire", "both") else None,
    )  # fmt: skip


def _name(rng: random.Random) -> str:
    return RARE_NAME if rng.random() < 0.02 else rng.choice(NAMES)


def _message_id(rng: random.Random, used: set[str]) -> str:
    """Short and long ids, some sharing a prefix (ties sort by id), each once: the store keeps
    a messageId once (EventKey), and the order of two events with one id and one time is
    defined nowhere (seeded, so a failing seed fails again)."""
    while True:
        text = rng.choice(["", "m-"]) + f"{rng.getrandbits(128):032x}"[: rng.choice([3, 32])]
        if text not in used:
            used.add(text)
            return text


def _stored_leads(rng: random.Random, now, count: int) -> list[int]:
    ids, rows, used = [], [], set()
    for _ in range(count):
        lead = lead_make()
        ids.append(lead.pk)
        if rng.random() < 0.3:
            score_set(lead.pk, epoch=now - timedelta(days=rng.randint(0, 20)))
        for _ in range(rng.randint(0, 12)):
            kind = rng.choice(["track", "track", "page", "identify"])
            properties = {}
            if rng.random() < 0.7:
                properties["category"] = rng.choice(VALUES)
            if rng.random() < 0.3:
                properties["doc"] = {"lang": rng.choice(VALUES)}
            # whole hours and minutes: ties between events, and ages at an expiry's edge
            at = now - timedelta(hours=rng.randint(-24, 40 * 24), minutes=rng.choice([0, 0, 30]))
            rows.append(Event(
                message_id=_message_id(rng, used),
                lead_id=lead.pk, type=kind, name=_name(rng) if kind == "track" else "",
                timestamp=at, received_at=now, properties=properties,
                context={"page": {"path": rng.choice(["/pricing/a", "/docs"])}}
                if rng.random() < 0.5 else {},
            ))  # fmt: skip
    Event.objects.bulk_create(rows)
    return ids


@pytest.mark.parametrize("seed", range(12))
def test_each_answered_lead_gets_the_engines_contribution(seed):
    rng = random.Random(seed)
    now = timezone.now().replace(microsecond=0)
    ids = _stored_leads(rng, now, 25)
    rules = [_rule(rng, i + 1) for i in range(4)]

    counted, rest = rules_split(rules, fast=True)
    assert not rest
    assert len(counted) == len(rules)
    found, declined = contributions(counted, low=min(ids), high=max(ids), now=now)

    # the engine, lead by lead, on what the loader loads for these rules
    from scoring.services.simulate_base import lead_rows

    events = events_load(ids, plan=engine.needs(rules), fast=True)
    scorer = Scorer(rules)
    answered = 0
    for row in lead_rows(ids):
        if row.id in declined:
            continue
        answered += 1
        expected = scorer.evaluate(row.facts(events.get(row.id, ())), now=now).score
        assert found.get(row.id, Decimal(0)) == expected, (row.id, rules)
    # half cents are common in this data (exact binary weights): declined, as they must be
    assert answered >= 5


def test_a_track_name_only_python_folds_sends_its_lead_to_the_engine():
    now = timezone.now()
    lead = lead_make()
    Event.objects.create(
        message_id="x1", lead_id=lead.pk, type="track", name=" Document Downloaded",
        timestamp=now - timedelta(days=1), received_at=now,
    )  # fmt: skip
    rule = Rule(1, "r", "behavior", Decimal(5), event="Document Downloaded")

    counted, _ = rules_split([rule], fast=True)
    found, declined = contributions(counted, low=lead.pk, high=lead.pk, now=now)

    assert declined == {lead.pk}
    assert found == {}
    # the engine counts it: the name, stripped and folded, is the rule's
    events = events_load([lead.pk], plan=engine.needs([rule]), fast=True)
    assert len(events[lead.pk]) == 1


def test_rules_of_other_shapes_leave_the_whole_draft_to_the_engine():
    windowed = Rule(1, "w", "behavior", Decimal(1), event="page", max_times=1,
                    window_days=Decimal(7))  # fmt: skip
    plain = Rule(2, "p", "behavior", Decimal(1), event="page")

    assert rules_split([plain, windowed], fast=True) == ((), (plain, windowed))
    assert rules_split([plain], fast=False) == ((), (plain,))
    assert rules_split([plain], fast=True)[0][0].rule == plain
