"""Production scores equal `engine.evaluate` on every stored event of the lead.

Events go in through the real ingest path (/v1/batch), identify calls among them, then every
way production scores (live scoring, the hourly refresh, a re-score job, the simulator and
its backtest, all through `loader.events_load`) is compared with `engine.evaluate` given
everything stored for the lead, calls included: the loader leaves out identify, group and
alias calls, so this holds only because the engine never counts them either (issue 10).
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from mqlapp.leads.models import Event, Lead
from scoring import engine
from scoring.models import LeadScore, RescoreJob
from scoring.services import (
    Outcome,
    breakdown_json,
    lead_facts,
    leads_refresh,
    rescore_finish,
    rescore_start,
    rescore_step,
    rule_create,
    rule_update,
    rules_live,
    scores_simulate,
)
from scoring.services.histogram import histogram
from scoring.services.loader import leads_for_facts

from .conftest import score_all

pytestmark = pytest.mark.django_db

# The rule: 14 days without activity, -10 (no after_event, no watch_events).
DORMANT = {"name": "Dormant", "kind": "inactivity", "inactive_days": 14, "points": -10}


def _messages(email, *, page_days, call_days, now):
    """An identify (with a group and an alias call) `call_days` ago, a page view before."""
    at = lambda days: (now - timedelta(days=days)).isoformat()  # noqa: E731
    return [
        {"type": "identify", "userId": email, "traits": {"email": email, "company": "Sakura"},
         "timestamp": at(call_days), "messageId": f"{email}-identify"},
        {"type": "page", "userId": email, "properties": {"path": "/pricing"},
         "timestamp": at(page_days), "messageId": f"{email}-page"},
        {"type": "group", "userId": email, "groupId": "sakura", "traits": {"name": "Sakura"},
         "timestamp": at(call_days), "messageId": f"{email}-group"},
        {"type": "alias", "userId": email, "previousId": f"{email}-old",
         "timestamp": at(call_days), "messageId": f"{email}-alias"},
    ]  # fmt: skip


def _everything_stored(lead_id):
    """Every stored event of the lead, as it was stored: no type left out, nothing projected."""
    return [
        engine.EventFact(e.message_id, e.type, e.name, e.timestamp, e.properties or {},
                         e.context or {})
        for e in Event.objects.filter(lead_id=lead_id)
    ]  # fmt: skip


def _engine(lead_id, rules, *, now, until=None):
    lead = leads_for_facts(Lead.objects.filter(pk=lead_id)).get()
    events = [e for e in _everything_stored(lead_id) if until is None or e.timestamp <= until]
    return engine.evaluate(lead_facts(lead, events), rules, now=now)


def _stored(lead_id):
    row = LeadScore.objects.get(lead_id=lead_id)
    return row.score, row.breakdown, row.as_of


def _agrees(lead_id, rules):
    """The stored score equals the engine's on every stored event at the row's `as_of`."""
    score, breakdown, as_of = _stored(lead_id)
    expected = _engine(lead_id, rules, now=as_of)
    assert (score, breakdown) == (expected.score, breakdown_json(expected))
    return score


def test_every_scoring_path_agrees_with_the_engine_on_identify_group_and_alias(ingest, settings):
    now = timezone.now()
    rule = rule_create(data=DORMANT)
    # dormant: a page view 30 days ago, the calls a day ago (the example);
    # recent: a page view 10 days ago, the calls a day ago (dormant only 4 days later)
    batch = _messages("dormant@example.co.jp", page_days=30, call_days=1, now=now)
    batch += _messages("recent@example.co.jp", page_days=10, call_days=1, now=now)
    answer = ingest("/v1/batch", {"batch": batch})
    assert (answer.status_code, answer.json().get("rejected", [])) == (200, [])
    dormant = Lead.objects.get(email="dormant@example.co.jp").pk
    recent = Lead.objects.get(email="recent@example.co.jp").pk
    for lead_id in (dormant, recent):  # the calls are the lead's stored events
        types = sorted(e.type for e in _everything_stored(lead_id))
        assert types == ["alias", "group", "identify", "page"]

    # live scoring: the hand-computed -10 (30 days without activity), and 0 (10 days)
    score_all()
    rules = rules_live()[1]
    assert (_agrees(dormant, rules), _agrees(recent, rules)) == (Decimal("-10.00"), 0)

    # the hourly refresh, 5 days later: the page view is 15 days old, the calls 6 days
    later = now + timedelta(days=5)
    leads_refresh([dormant, recent], now=later)
    assert _stored(recent)[2] == later
    assert (_agrees(dormant, rules), _agrees(recent, rules)) == (Decimal("-10.00"), -10)

    # a re-score job (a rule change, in the background) built and swapped in
    settings.SCORING_RESCORE_INLINE_MAX = 0
    rule_update(rule, data={"name": "Dormant two weeks"})
    job = RescoreJob.objects.latest("pk")
    assert rescore_start(job.pk, now=later)
    while rescore_step(job.pk, now=later):
        pass
    assert rescore_finish(job.pk, now=later)
    rules = rules_live()[1]
    assert rules[0].name == "Dormant two weeks"
    assert (_agrees(dormant, rules), _agrees(recent, rules)) == (Decimal("-10.00"), -10)

    # the simulator (a draft evaluated afresh through the loader) a day after `now`, when
    # the draft (12 days) tells the two apart, and its backtest: outcomes decided at `now`
    draft = (engine.parse_rule({**DORMANT, "inactive_days": 12}, rule_id=rule.pk),)
    then = now + timedelta(days=1)
    expected = {lead_id: _engine(lead_id, draft, now=then).score for lead_id in (dormant, recent)}
    assert expected == {dormant: Decimal("-10.00"), recent: Decimal("0.00")}
    outcomes = [Outcome(dormant, "accepted", now, None), Outcome(recent, "lost", now, None)]
    backtest = {
        lead_id: _engine(lead_id, draft, now=now, until=now).score for lead_id in (dormant, recent)
    }
    assert backtest == {dormant: Decimal("-10.00"), recent: Decimal("0.00")}
    for threshold in (Decimal(-10), Decimal("-9.99")):
        answer = scores_simulate(
            rules=draft, threshold=threshold, min_fit=None, outcomes=outcomes, now=then
        )
        assert answer["rules_evaluated"] == 1
        assert answer["would_qualify"] == sum(s >= threshold for s in expected.values())
        assert answer["histogram"] == histogram(list(expected.values()))
        assert answer["backtest"]["accepted"] == {
            "would_qualify": int(backtest[dormant] >= threshold),
            "total": 1,
        }
        assert answer["backtest"]["lost"] == {
            "would_qualify": int(backtest[recent] >= threshold),
            "total": 1,
        }
