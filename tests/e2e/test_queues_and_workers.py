"""Past one worker (issue 9): a webhook backlog does not hold up scoring, because each kind of
work has its own queue; and three worker processes on different hosts, draining the same
queues at once, lose no event and score none twice, and share a re-score job."""

import logging
import os
import random
from collections import Counter, defaultdict
from decimal import Decimal
from itertools import pairwise
from typing import Any

import pytest
from django.db.models import Count
from django.utils import timezone
from rest_framework.test import APIClient

from handoff.models import (
    LeadLifecycle,
    LeadView,
    Qualification,
    QualifyQueue,
    StageTransition,
    WebhookDelivery,
)
from handoff.services import policy_update
from handoff.webhooks import webhook_create
from mqlapp.leads.models import Event, InboxBatch, Lead
from mqlapp.leads.publisher import publisher
from mqlapp.leads.services import task_kick
from scoring import engine
from scoring.models import LeadScore, RescoreJob, ScoreHistory, ScoreQueue, ScoringRule
from scoring.services import events_load, lead_facts, rule_create, rule_update, rules_live
from scoring.services.loader import leads_for_facts
from tests.conftest import basic, consumers, requires_services, wait_for, workers_idle
from tests.handoff.conftest import Receiver

pytestmark = [
    requires_services,
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
]
log = logging.getLogger(__name__)


def _post(source: Any, batch: list[dict[str, Any]]) -> None:
    response = APIClient().post(
        "/v1/batch",
        {"batch": batch},
        format="json",
        HTTP_AUTHORIZATION=basic(source.write_key),
    )
    assert response.status_code == 200, response.content


def _waiting(queue: str) -> int:
    """Messages on `queue` that no worker has taken."""
    from mqlapp.celery import app

    with app.connection_for_write() as conn:
        return conn.default_channel.queue_declare(queue=queue).message_count


@pytest.fixture
def receiver() -> Any:
    found = Receiver()
    found.thread.start()
    yield found
    found.server.shutdown()
    found.server.server_close()


BACKLOG = 200


def test_a_webhook_backlog_does_not_hold_up_scoring_or_qualification(
    start_workers, source, make_user, receiver, settings
):
    # given: a worker on the scoring and handoff queues only (none on webhooks)
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True  # the receiver is on 127.0.0.1
    rule_create(
        data={"name": "Download", "kind": "behavior", "event": "Document Downloaded", "points": 20}
    )
    policy_update(data={"mql_threshold": 60})
    make_user("sales")
    hook = webhook_create(data={"url": receiver.url, "events": ["lead.mql"]})
    start_workers((f"core-{os.getpid()}@host-a", ["scoring", "handoff"], 2))
    # and a backlog of deliveries waiting on the webhooks queue
    now = timezone.now()
    backlog = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            webhook=hook,
            event_type="lead.mql",
            msg_id=f"msg_backlog_{n}",
            payload="{}",
            next_attempt_at=now,
            created_at=now,
        )
        for n in range(BACKLOG)
    )
    for delivery in backlog:
        task_kick("handoff.tasks.webhook_deliver", delivery.pk)
    assert publisher.flush(timeout=30)  # kicks are sent by the publisher thread
    assert _waiting("webhooks") == BACKLOG

    # when: events arrive
    email = "backlog@example.co.jp"
    _post(
        source,
        [
            {
                "type": "track",
                "userId": email,
                "event": "Document Downloaded",
                "context": {"traits": {"email": email}},
            }
            for _ in range(3)
        ],
    )

    # then: the lead is scored and qualified while the backlog waits
    lead = wait_for(lambda: LeadView.objects.filter(email=email, scoring__score=60).first())
    wait_for(lambda: LeadLifecycle.objects.filter(lead_id=lead.pk, stage="mql").exists())
    # the MQL's own delivery joins the backlog (sent once its transaction commits), and
    # nothing of it was taken
    wait_for(lambda: _waiting("webhooks") == BACKLOG + 1)
    assert WebhookDelivery.objects.count() == BACKLOG + 1
    assert receiver.requests == []
    assert not WebhookDelivery.objects.exclude(status="pending", attempts=0).exists()

    # and a worker on the webhooks queue takes the whole backlog
    start_workers((f"hooks-{os.getpid()}@host-b", ["webhooks"], 4))
    wait_for(
        lambda: WebhookDelivery.objects.filter(status="delivered").count() == BACKLOG + 1,
        timeout=60,
    )
    assert len(receiver.requests) == BACKLOG + 1
    assert _waiting("webhooks") == 0


# Scores by hand: downloads 20 each (three at most), webinars 15, pricing views 2.
POINTS = {"Document Downloaded": 20, "Webinar Attended": 15, "Pricing Viewed": 2}
CAPS = {"Document Downloaded": 3}
THRESHOLD = 100
LEADS, EVENTS, PER_REQUEST = 300, 3000, 250


def _expected(names: list[str]) -> Decimal:
    counts = Counter(names)
    return Decimal(sum(POINTS[name] * min(n, CAPS.get(name, n)) for name, n in counts.items()))


def _traffic(rng: random.Random) -> list[list[dict[str, Any]]]:
    """EVENTS track calls about LEADS people, in requests of PER_REQUEST; each request after
    the first also repeats the previous request's first message (same messageId)."""
    names = list(POINTS)
    messages = []
    for n in range(EVENTS):
        person = f"multi-{rng.randrange(LEADS)}@example.co.jp"
        messages.append(
            {
                "type": "track",
                "userId": person,
                "event": rng.choices(names, weights=[3, 1, 6])[0],
                "messageId": f"multi-{n}",
                "context": {"traits": {"email": person}},
            }
        )
    requests = [messages[i : i + PER_REQUEST] for i in range(0, EVENTS, PER_REQUEST)]
    return [requests[0]] + [[*r, requests[i][0]] for i, r in enumerate(requests[1:])]


def _fresh_scores(ids: list[int]) -> dict[int, Decimal]:
    """The engine's scores of these leads now, from facts loaded by the ORM path (not the
    SQL path the workers use)."""
    _, rules = rules_live()
    events = events_load(ids, plan=engine.needs(rules), fast=False)
    now = timezone.now()
    return {
        lead.pk: engine.evaluate(lead_facts(lead, events.get(lead.pk, ())), rules, now=now).score
        for lead in leads_for_facts(Lead.objects.filter(pk__in=ids))
    }


def _history() -> dict[int, list[Decimal]]:
    """Each lead's score history, in the order the points were written."""
    history: dict[int, list[Decimal]] = defaultdict(list)
    for lead_id, score in ScoreHistory.objects.order_by("id").values_list("lead_id", "score"):
        history[lead_id].append(score)
    return history


def _per_lead(rows: Any) -> dict[int, int]:
    return {row["lead_id"]: row["n"] for row in rows.values("lead_id").annotate(n=Count("id"))}


def _rescore_shared(settings: Any, leads: dict[str, int], scores: dict[int, Decimal]) -> None:
    """A rule change: the re-score job is started with three runners, which the workers
    share by claiming ranges of leads; the swapped-in scores are the engine's under the new
    rule."""
    settings.SCORING_RESCORE_INLINE_MAX, settings.SCORING_RESCORE_PARTS = 0, 3
    rule = ScoringRule.objects.get(name="Pricing Viewed")
    rule_update(rule, data={"points": 7})
    job = RescoreJob.objects.order_by("-id").first()
    wait_for(lambda: RescoreJob.objects.get(pk=job.pk).state == "done", timeout=120)
    job.refresh_from_db()
    assert (job.done, job.total) == (len(leads), len(leads))
    rescored = {pk: score for pk, score in LeadScore.objects.values_list("lead_id", "score")}
    assert rescored == _fresh_scores(sorted(leads.values()))
    assert rescored != scores  # the change moved the scores of the leads that viewed pricing


def test_three_workers_on_three_hosts_lose_no_event_and_score_none_twice(
    start_workers, source, make_user, settings
):
    # given: rules, a threshold, a rep; three workers on three hosts, each on every queue
    for name, points in POINTS.items():
        rule_create(
            data={
                "name": name,
                "kind": "behavior",
                "event": name,
                "points": points,
                "max_times": CAPS.get(name),
            }
        )
    policy_update(data={"mql_threshold": THRESHOLD})
    make_user("sales")
    queues = ["ingest", "scoring", "handoff", "webhooks"]
    workers = start_workers(
        *((f"{name}-{os.getpid()}@host-{name}", queues, 2) for name in ("a", "b", "c"))
    )
    requests = _traffic(random.Random(9))
    sent = {m["messageId"]: m for batch in requests for m in batch}
    by_person: dict[str, list[str]] = defaultdict(list)
    for message in sent.values():
        by_person[message["userId"]].append(message["event"])
    carried: Counter[str] = Counter(
        person for batch in requests for person in {m["userId"] for m in batch}
    )

    # when: half the traffic waits for the workers, who then take it all at once while the
    # rest arrives (so batches with the same leads are scored side by side)
    nodenames = [w.nodename for w in workers]
    consumers("cancel", nodenames, ["scoring", "handoff"])
    half = len(requests) // 2
    for batch in requests[:half]:
        _post(source, batch)
    # requests of PER_REQUEST messages are large batches: the ingest queue stores their events
    # (tests/mqlapp/test_inbox.py), still consumed while scoring waits
    wait_for(lambda: not InboxBatch.objects.exists(), timeout=120)
    # each lead those batches named is queued once: a back-fill holds its lead's waiting row
    # instead of adding another (LeadQueue.append); the second half's rows for leads the
    # workers hold are added beside them
    first_half = {m["userId"] for batch in requests[:half] for m in batch}
    assert ScoreQueue.objects.count() == len(first_half) > 0
    consumers("add", nodenames, ["scoring", "handoff"])
    for batch in requests[half:]:
        _post(source, batch)
    # the score queue first: qualification is queued only by scoring, in its transaction
    wait_for(
        lambda: (
            not InboxBatch.objects.exists()
            and not ScoreQueue.objects.exists()
            and not QualifyQueue.objects.exists()
        ),
        timeout=180,
    )

    # then: every event is stored once, on its person's lead
    stored = list(Event.objects.values_list("message_id", "lead__email"))
    assert len(stored) == len(sent) == EVENTS
    assert {message_id: email for message_id, email in stored} == {
        message_id: m["userId"] for message_id, m in sent.items()
    }
    leads = dict(Lead.objects.values_list("email", "pk"))
    assert set(leads) == set(by_person)

    # every lead's stored score is its score by hand, and the engine's computed afresh
    scores = {pk: score for pk, score in LeadScore.objects.values_list("lead_id", "score")}
    expected = {leads[person]: _expected(names) for person, names in by_person.items()}
    assert scores == expected
    assert _fresh_scores(sorted(leads.values())) == expected

    # none scored twice: each history point of a lead is a rise on the one before (two
    # workers scoring the same rows would write the same point twice), it ends at the
    # stored score, and there are no more points than requests that carried the lead
    history = _history()
    for person, pk in leads.items():
        points = history[pk]
        assert all(a < b for a, b in pairwise(points)), (person, points)
        assert points[-1] == expected[pk], (person, points)
        assert len(points) <= carried[person], (person, points)

    # and qualified exactly once: the leads over the threshold, one MQL each
    over = {pk for pk, score in expected.items() if score >= THRESHOLD}
    assert over
    assert over != set(expected)
    assert set(LeadLifecycle.objects.filter(stage="mql").values_list("lead_id", flat=True)) == over
    assert _per_lead(Qualification.objects.all()) == dict.fromkeys(over, 1)
    assert _per_lead(StageTransition.objects.filter(to_stage="mql")) == dict.fromkeys(over, 1)

    _rescore_shared(settings, leads, scores)

    # how the work spread (logged: which worker takes which task is up to the broker)
    from mqlapp.celery import app

    stats = app.control.inspect(destination=nodenames, timeout=2).stats()
    assert set(stats or {}) == set(nodenames)
    for nodename, data in sorted(stats.items()):
        log.info("%s ran %s", nodename, data.get("total"))
    runs = sum(data.get("total", {}).get("scoring.tasks.rescore_run", 0) for data in stats.values())
    assert runs == 3  # every runner the job was started with ran

    # the workers stop cleanly (a warm shutdown: what they hold, they finish)
    workers_idle(nodenames)
    assert [w.stop() for w in workers] == [0, 0, 0]
