"""SLA compliance judges each qualification cycle against its own due time."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from handoff.models import LeadView, Qualification
from handoff.reports import sla_compliance
from handoff.services import leads_reapproach_due, mql_qualify, policy_update, queue_action
from handoff.sla import mql_sla_sweep
from mqlapp.leads.models import Event
from tests.factories import lead_make

pytestmark = pytest.mark.django_db


def _activity(lead, at):
    Event.objects.create(
        message_id=str(uuid.uuid4()), lead=lead, type="track", name="Email Opened",
        timestamp=at, received_at=at,
    )  # fmt: skip


def test_each_cycle_is_judged_by_its_own_due_time(make_user):
    rep = make_user("sales")
    policy_update(data={"sla_hours": 24, "assignment": "manual"})
    now = timezone.now()
    # given lead A: cycle 1 accepted 2 h after qualifying (on time), later recycled; it came
    # back and qualified again an hour ago (cycle 2, due tomorrow: not settled yet)
    a = lead_make(email="a@example.co.jp", score=120)
    t1 = now - timedelta(days=30)
    assert mql_qualify(a.pk, score=a.score, reason="threshold", now=t1)
    queue_action(a.pk, "accept", user=rep, data={}, now=t1 + timedelta(hours=2))
    back = (timezone.localtime(t1) + timedelta(days=10)).date().isoformat()
    queue_action(
        a.pk, "recycle", user=rep, data={"reason": "bad_timing", "reapproach_on": back},
        now=t1 + timedelta(days=3),
    )  # fmt: skip
    leads_reapproach_due(now=t1 + timedelta(days=11))
    _activity(a, now - timedelta(hours=2))
    assert mql_qualify(a.pk, score=a.score, reason="threshold", now=now - timedelta(hours=1))
    # and lead B: rejected 30 h after qualifying, with no SLA sweep in between (late)
    b = lead_make(email="b@example.co.jp", score=120)
    t2 = now - timedelta(days=5)
    assert mql_qualify(b.pk, score=b.score, reason="threshold", now=t2)
    queue_action(
        b.pk, "reject", user=rep, data={"reason": "no_budget"}, now=t2 + timedelta(hours=30)
    )
    # and lead C: still waiting, its due time passed (late, swept)
    c = lead_make(email="c@example.co.jp", score=120)
    assert mql_qualify(c.pk, score=c.score, reason="threshold", now=now - timedelta(hours=30))
    assert mql_sla_sweep(now=now) == 1

    # each qualification keeps the due time it got
    dues = dict(Qualification.objects.filter(lead_id=a.pk).values_list("cycle", "sla_due_at"))
    assert dues == {1: t1 + timedelta(hours=24), 2: now + timedelta(hours=23)}
    assert LeadView.objects.get(pk=a.pk).sla_due_at == dues[2]

    # when
    result = sla_compliance(now=now)

    # then: A's first cycle on time, B late, C late; A's open second cycle not yet counted
    assert result == {"due": 3, "breached": 2, "on_time": 1, "rate": 33.3}
