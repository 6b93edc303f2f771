"""A lead's score path since its first event: the engine evaluated at each past moment."""

from dataclasses import replace
from datetime import timedelta

import pytest
from django.utils import timezone

from handoff.models import LeadView
from mqlapp.leads.models import Event, Lead
from scoring import engine
from scoring.models import ScoreHistory
from scoring.services import events_load, lead_facts, rule_create, score_path
from scoring.services.loader import leads_for_facts
from scoring.services.state import rules_live

from .conftest import MIXED_RULES, MIXED_SCORE, mixed_activity, score_all

pytestmark = pytest.mark.django_db


def _engine_at(lead_id, moment, *, epoch=None):
    """What the engine says at `moment` over the events up to it (the test's own reading)."""
    _version, rules = rules_live()
    lead = leads_for_facts(Lead.objects.filter(pk=lead_id)).get()
    events = events_load([lead_id], plan=engine.needs(rules)).get(lead_id, [])
    facts = replace(
        lead_facts(lead),
        events=tuple(e for e in events if e.timestamp <= moment),
        score_epoch=epoch,
    )
    return engine.evaluate(facts, rules, now=moment).score


def test_the_path_starts_at_the_first_event_and_equals_the_engine_at_every_point(ingest):
    for rule in MIXED_RULES:
        rule_create(data=rule)
    now = timezone.now()
    ingest("/v1/batch", {"batch": mixed_activity("path@example.co.jp", now)})
    score_all()
    lead = LeadView.objects.get(email="path@example.co.jp")
    # the server scored it once: one stored history row, nothing from the 61 days before
    assert ScoreHistory.objects.filter(lead=lead).count() == 1

    path = score_path(lead.pk, now=now)

    first = Event.objects.filter(lead=lead).order_by("timestamp").first()
    assert path[0].at == first.timestamp  # the identify, 61 days ago
    assert path[-1].at == now
    assert path[-1].score == lead.score == pytest.approx(MIXED_SCORE)
    assert [p.at for p in path] == sorted(p.at for p in path)
    assert 60 < len(path) <= 240  # event moments plus regular steps for fading
    for point in path:
        if point.event:
            assert point.score == _engine_at(lead.pk, point.at)
        elif point.at != path[0].at:
            # a point before a jump, or a step between events: the engine at that moment,
            # over the events strictly before it when it precedes a jump
            later = [p for p in path if p.at == point.at and p.event]
            moment = point.at - timedelta(microseconds=1) if later else point.at
            assert point.score == _engine_at(lead.pk, moment)
    # the seminar 60 days ago fades (half-life 30 d): the path between events goes down
    seminar = next(p for p in path if p.event and p.score >= 40)
    after = [p for p in path if seminar.at < p.at < seminar.at + timedelta(days=4)]
    assert after
    assert all(p.score < seminar.score for p in after if not p.event)


def test_a_recycle_resets_the_path_at_its_moment_and_not_before(ingest):
    for rule in MIXED_RULES:
        rule_create(data=rule)
    now = timezone.now()
    ingest("/v1/batch", {"batch": mixed_activity("recycled@example.co.jp", now)})
    score_all()
    lead = LeadView.objects.get(email="recycled@example.co.jp")
    recycled = now - timedelta(days=10)

    path = score_path(lead.pk, now=now, epochs=[recycled])

    at_recycle = [p for p in path if p.at == recycled]
    assert [p.event for p in at_recycle] == [False, True]
    before, after = at_recycle
    assert before.score == _engine_at(lead.pk, recycled - timedelta(microseconds=1))
    assert after.score == _engine_at(lead.pk, recycled, epoch=recycled)
    assert after.score < before.score  # engagement counts from the recycle on
    assert path[-1].score == _engine_at(lead.pk, now, epoch=recycled)


def test_a_lead_without_events_has_no_path():
    lead = Lead.objects.create(email="quiet@example.co.jp")
    assert score_path(lead.pk) == []
