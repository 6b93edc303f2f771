"""The handoff against PostgreSQL, Redis and a real 2-process Celery worker."""

import json
import threading
import urllib.request
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook as Verifier

from handoff.models import (
    Assignment,
    LeadLifecycle,
    LeadView,
    Qualification,
    QualifyQueue,
    SlaBreach,
    StageTransition,
    WebhookDelivery,
)
from handoff.services import policy_update
from handoff.webhooks import webhook_create
from scoring.models import LeadScore, ScoreQueue
from scoring.services import rule_create
from tests.conftest import basic, client_for, requires_services, wait_for

from .conftest import track

pytestmark = [
    requires_services,
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
]


def post(server_url, source, body):
    request = urllib.request.Request(
        f"{server_url}/v1/batch",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": basic(source.write_key)},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200
        return json.loads(response.read())


def post_concurrently(server_url, source, bodies):
    """Every body in its own request, all released at once."""
    gate = threading.Barrier(len(bodies))
    errors = []

    def send(body):
        try:
            gate.wait(timeout=30)
            post(server_url, source, body)
        except Exception as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(b,)) for b in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []


ROOT = Path(__file__).resolve().parents[2]


def mails_about(mail_dir: Path, text: str) -> list[str]:
    """Messages the worker wrote (file email backend) that contain `text`."""
    found = []
    for path in sorted(mail_dir.iterdir()):
        content = path.read_text(errors="replace")
        # the file backend may keep several messages in one file: split on its separator
        found += [m for m in content.split("-" * 79) if text in m]
    return found


def settled():
    """The scoring and qualifying queues are empty and no webhook delivery is waiting."""
    return (
        not ScoreQueue.objects.exists()
        and not QualifyQueue.objects.exists()
        and not WebhookDelivery.objects.filter(status="pending").exists()
    )


@pytest.fixture
def downloads(db):
    rule_create(
        data={"name": "Download", "kind": "behavior", "event": "Document Downloaded", "points": 20}
    )
    policy_update(data={"mql_threshold": 60})


def test_twenty_concurrent_events_across_the_threshold_qualify_once(
    celery_worker_process,
    live_server,
    source,
    make_user,
    downloads,
    receiver,
    private_hosts,
    worker_mail_dir,
):
    rep = make_user("sales")
    hook = webhook_create(data={"url": receiver.url, "events": ["lead.mql"]})
    email = f"race-{uuid.uuid4().hex[:8]}@example.co.jp"
    post(live_server.url, source, {"batch": track(email, "Document Downloaded", 2)})
    lead = wait_for(lambda: LeadView.objects.filter(email=email, scoring__score=40).first())
    assert lead.stage == "nurturing"

    # when: 20 events, each of which alone crosses the threshold, in 20 concurrent requests
    post_concurrently(
        live_server.url, source, [{"batch": track(email, "Document Downloaded")} for _ in range(20)]
    )

    # then: once everything is scored and delivered, one of each
    wait_for(lambda: LeadView.objects.filter(pk=lead.pk, scoring__score=440).exists(), timeout=60)
    wait_for(settled, timeout=60)
    wait_for(lambda: mails_about(worker_mail_dir, email), timeout=30)
    lead.refresh_from_db()
    assert (lead.stage, lead.cycle, lead.owner_id) == ("mql", 1, rep.pk)
    assert Qualification.objects.filter(lead=lead).count() == 1
    assert StageTransition.objects.filter(lead=lead, to_stage="mql").count() == 1
    assert Assignment.objects.filter(lead=lead).count() == 1
    assert len(mails_about(worker_mail_dir, email)) == 1
    assert WebhookDelivery.objects.filter(status="delivered").count() == 1
    assert len(receiver.requests) == 1
    body = Verifier(hook.secret).verify(
        receiver.requests[0]["body"], receiver.requests[0]["headers"]
    )
    assert (body["type"], body["data"]["email"], body["data"]["owner"]["id"]) == (
        "lead.mql",
        email,
        rep.pk,
    )


def test_round_robin_over_three_reps_with_one_away_under_concurrency(
    celery_worker_process, live_server, source, make_user, downloads
):
    a = make_user("sales")
    away = make_user("sales", available=False)
    c = make_user("sales")
    emails = [f"rr{i}-{uuid.uuid4().hex[:6]}@example.co.jp" for i in range(6)]
    post_concurrently(
        live_server.url, source, [{"batch": track(e, "Document Downloaded", 3)} for e in emails]
    )
    wait_for(
        lambda: LeadView.objects.filter(email__in=emails, lifecycle__stage="mql").count() == 6,
        timeout=60,
    )
    owners = list(
        LeadView.objects.filter(email__in=emails).values_list("lifecycle__owner_id", flat=True)
    )
    assert sorted(owners) == sorted([a.pk] * 3 + [c.pk] * 3)
    assert away.pk not in owners
    assert Qualification.objects.count() == 6


def test_a_failing_endpoint_is_retried_with_the_same_id_and_a_valid_signature(
    celery_worker_process, live_server, source, make_user, downloads, receiver, private_hosts
):
    make_user("sales")
    receiver.statuses = [500]
    hook = webhook_create(data={"url": receiver.url, "events": ["lead.mql"]})
    email = f"retry-{uuid.uuid4().hex[:8]}@example.co.jp"
    post(live_server.url, source, {"batch": track(email, "Document Downloaded", 3)})
    # the first retry comes 5 s after the failure (well within 30 s)
    wait_for(lambda: len(receiver.requests) >= 2, timeout=45)
    wait_for(lambda: WebhookDelivery.objects.filter(status="delivered").exists(), timeout=15)
    first, second = receiver.requests
    assert first["headers"]["webhook-id"] == second["headers"]["webhook-id"]
    assert first["body"] == second["body"]
    for request in (first, second):
        Verifier(hook.secret).verify(request["body"], request["headers"])
    log = client_for(make_user("admin")).get(f"/api/webhooks/{hook.pk}/deliveries/").json()
    assert [(t["number"], t["status_code"]) for t in log[0]["tries"]] == [(1, 500), (2, 200)]
    assert log[0]["webhook_id"] == first["headers"]["webhook-id"]


def test_sla_breach_reassigns_and_tells_admins_once(
    celery_worker_process, live_server, source, make_user, downloads, worker_mail_dir
):
    from mqlapp.celery import app

    a, b = make_user("sales"), make_user("sales")
    admin = make_user("admin")
    policy_update(data={"sla_hours": 1, "reassign_on_breach": True})
    email = f"sla-{uuid.uuid4().hex[:8]}@example.co.jp"
    post(live_server.url, source, {"batch": track(email, "Document Downloaded", 3)})
    lead = wait_for(lambda: LeadView.objects.filter(email=email, lifecycle__stage="mql").first())
    assert lead.owner_id == a.pk
    # an hour and a minute pass without an answer
    LeadLifecycle.objects.filter(lead_id=lead.pk).update(
        sla_due_at=timezone.now() - timedelta(minutes=1)
    )
    queue = client_for(admin).get("/api/handoff/queue/").json()
    assert [(i["id"], i["overdue"]) for i in queue] == [(lead.pk, True)]
    app.send_task("handoff.tasks.mql_sla_sweep")
    app.send_task("handoff.tasks.mql_sla_sweep")
    wait_for(lambda: LeadView.objects.filter(pk=lead.pk, lifecycle__owner=b).exists())
    wait_for(
        lambda: (
            mails_about(worker_mail_dir, "SLA breached")
            and mails_about(worker_mail_dir, "reassigned to you")
        )
    )
    breach = SlaBreach.objects.get()
    assert (breach.owner_id, breach.reassigned_to_id) == (a.pk, b.pk)
    wait_for(lambda: SlaBreach.objects.filter(notified_at__isnull=False).exists())
    breach_mails = [m for m in mails_about(worker_mail_dir, "SLA breached") if email in m]
    assert len(breach_mails) == 1
    assert admin.email in breach_mails[0]
    lead.refresh_from_db()
    assert lead.sla_due_at > timezone.now() + timedelta(minutes=55)
    assert client_for(admin).get("/api/handoff/queue/").json()[0]["overdue"] is False


def test_recycle_back_to_nurturing_then_requalify_only_on_new_activity(
    celery_worker_process,
    live_server,
    source,
    make_user,
    downloads,
    receiver,
    private_hosts,
    worker_mail_dir,
):
    from mqlapp.celery import app

    rep = make_user("sales")
    webhook_create(data={"url": receiver.url, "events": ["lead.mql"]})
    email = f"cycle-{uuid.uuid4().hex[:8]}@example.co.jp"
    post(live_server.url, source, {"batch": track(email, "Document Downloaded", 3)})
    lead = wait_for(lambda: LeadView.objects.filter(email=email, lifecycle__stage="mql").first())
    client = client_for(rep)
    assert client.post(f"/api/handoff/leads/{lead.pk}/accept/").status_code == 200
    today = timezone.localdate().isoformat()
    recycled = client.post(
        f"/api/handoff/leads/{lead.pk}/recycle/",
        {"reason": "bad_timing", "reapproach_on": today},
        format="json",
    )
    assert recycled.status_code == 200
    # re-scored from the new epoch by the worker: the old downloads stop counting
    wait_for(
        lambda: LeadView.objects.filter(
            pk=lead.pk, lifecycle__stage="recycled", scoring__score=0
        ).exists()
    )
    app.send_task("handoff.tasks.leads_reapproach_due")
    wait_for(lambda: LeadView.objects.filter(pk=lead.pk, lifecycle__stage="nurturing").exists())
    lead.refresh_from_db()

    # old activity arriving late does not bring it back
    old = (lead.score_epoch - timedelta(hours=1)).isoformat()
    sent = timezone.now()
    post(live_server.url, source, {"batch": track(email, "Document Downloaded", 4, timestamp=old)})
    wait_for(lambda: LeadScore.objects.filter(lead=lead, as_of__gte=sent).exists())
    wait_for(settled)
    lead.refresh_from_db()
    assert (lead.stage, lead.score, lead.cycle) == ("nurturing", 0, 1)

    # new activity does: a second cycle, assigned, emailed and announced again
    post(live_server.url, source, {"batch": track(email, "Document Downloaded", 3)})
    wait_for(
        lambda: LeadView.objects.filter(
            pk=lead.pk, lifecycle__stage="mql", lifecycle__cycle=2
        ).exists()
    )
    wait_for(settled)
    wait_for(lambda: len(mails_about(worker_mail_dir, email)) == 2)
    assert list(Qualification.objects.filter(lead=lead).values_list("cycle", flat=True)) == [1, 2]
    assert [b["type"] for b in receiver.bodies()] == ["lead.mql", "lead.mql"]
    assert [b["data"]["cycle"] for b in receiver.bodies()] == [1, 2]
    history = client.get(f"/api/leads/{lead.pk}/history/").json()
    assert [(h["from"], h["to"], h["cycle"]) for h in history] == [
        ("nurturing", "mql", 1),
        ("mql", "sal", 1),
        ("sal", "recycled", 1),
        ("recycled", "nurturing", 1),
        ("nurturing", "mql", 2),
    ]
