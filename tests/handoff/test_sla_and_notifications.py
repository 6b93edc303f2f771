"""SLA: overdue in the queue, admins told once, reassignment on breach; the rep's email."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from handoff.models import Assignment, LeadView, SlaBreach
from handoff.services import mql_qualify, policy_update
from handoff.sla import mql_sla_sweep
from scoring.models import LeadScore
from tests.conftest import client_for
from tests.factories import lead_make

from .conftest import score_all, track

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english_mail(settings):
    """These tests read the mails' wording in English (LANGUAGE_CODE=en); the Japanese mail a
    default install sends is tested by test_mails_are_in_the_site_language_japanese_by_default."""
    settings.LANGUAGE_CODE = "en"


def new_mql(email, *, at, score=80, capture):
    lead = lead_make(email=email, first_name="太郎", last_name="山田", company="桜製作所")
    with capture(execute=True):
        assert mql_qualify(lead.pk, score=Decimal(score), reason="threshold", now=at)
    return LeadView.objects.get(pk=lead.pk)


def test_queue_says_overdue_and_orders_by_due_time_then_score(
    make_user, django_capture_on_commit_callbacks
):
    rep = make_user("sales")
    policy_update(data={"sla_hours": 1.5})
    now = timezone.now()
    late = new_mql(
        "late@example.co.jp",
        at=now - timedelta(hours=2),
        capture=django_capture_on_commit_callbacks,
    )
    low = new_mql("low@example.co.jp", at=now, score=70, capture=django_capture_on_commit_callbacks)
    high = new_mql(
        "high@example.co.jp", at=now, score=90, capture=django_capture_on_commit_callbacks
    )
    LeadScore.objects.filter(lead_id=high.pk).update(score=90)
    LeadScore.objects.filter(lead_id=low.pk).update(score=70)
    items = client_for(rep).get("/api/handoff/queue/").json()
    assert [(i["id"], i["overdue"]) for i in items] == [
        (late.pk, True),
        (high.pk, False),
        (low.pk, False),
    ]
    assert late.sla_due_at == late.mql_at + timedelta(minutes=90)


def test_a_breach_tells_admins_once_and_stays_with_the_rep_without_reassign(
    make_user, django_capture_on_commit_callbacks
):
    rep = make_user("sales")
    make_user("sales")
    make_user("admin", username="boss1")
    make_user("admin", username="boss2")
    policy_update(data={"sla_hours": 24})
    start = timezone.now() - timedelta(hours=30)
    lead = new_mql("a@example.co.jp", at=start, capture=django_capture_on_commit_callbacks)
    assert lead.owner_id == rep.pk
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert mql_sla_sweep() == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert mql_sla_sweep() == 0
        assert mql_sla_sweep(now=timezone.now() + timedelta(hours=5)) == 0
    assert [(m.subject, sorted(m.to)) for m in mail.outbox] == [
        ("[mqlapp] SLA breached: 山田 太郎 (桜製作所)", ["boss1@example.com", "boss2@example.com"])
    ]
    assert "It was not reassigned." in mail.outbox[0].body
    breach = SlaBreach.objects.get()
    assert (breach.owner_id, breach.reassigned_to_id, breach.due_at) == (
        rep.pk,
        None,
        lead.sla_due_at,
    )
    assert LeadView.objects.get().owner_id == rep.pk


def test_reassign_on_breach_hands_the_mql_to_the_next_rep_and_restarts_the_clock(
    make_user, django_capture_on_commit_callbacks
):
    a, b, away = make_user("sales"), make_user("sales"), make_user("sales", available=False)
    make_user("admin")
    policy_update(data={"sla_hours": 2, "reassign_on_breach": True})
    start = timezone.now() - timedelta(hours=3)
    lead = new_mql("a@example.co.jp", at=start, capture=django_capture_on_commit_callbacks)
    assert lead.owner_id == a.pk
    mail.outbox.clear()
    sweep_at = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        assert mql_sla_sweep(now=sweep_at) == 1
    lead.refresh_from_db()
    assert lead.owner_id == b.pk
    assert lead.sla_due_at == sweep_at + timedelta(hours=2)
    assert list(Assignment.objects.values_list("user", "why")) == [
        (a.pk, "round_robin"),
        (b.pk, "sla_breach"),
    ]
    assert sorted(m.to[0] for m in mail.outbox) == sorted([b.email, "admin4@example.com"])
    rep_mail = next(m for m in mail.outbox if m.to == [b.email])
    assert "reassigned to you" in rep_mail.body
    # b is late too: a new deadline, a new breach, back to a (c is away)
    with django_capture_on_commit_callbacks(execute=True):
        assert mql_sla_sweep(now=sweep_at + timedelta(hours=2, minutes=1)) == 1
    lead.refresh_from_db()
    assert lead.owner_id == a.pk != away.pk
    assert SlaBreach.objects.count() == 2


def test_accepted_or_rejected_mqls_never_breach(make_user, django_capture_on_commit_callbacks):
    rep = make_user("sales")
    start = timezone.now() - timedelta(days=3)
    one = new_mql("one@example.co.jp", at=start, capture=django_capture_on_commit_callbacks)
    two = new_mql("two@example.co.jp", at=start, capture=django_capture_on_commit_callbacks)
    client = client_for(rep)
    assert client.post(f"/api/handoff/leads/{one.pk}/accept/").status_code == 200
    assert (
        client.post(
            f"/api/handoff/leads/{two.pk}/reject/", {"reason": "no_need"}, format="json"
        ).status_code
        == 200
    )
    assert mql_sla_sweep() == 0
    assert client.get("/api/handoff/queue/").json() == []


def test_the_rep_is_emailed_once_with_the_score_breakdown_and_link(
    ingest, make_user, rules, django_capture_on_commit_callbacks
):
    rep = make_user("sales")
    mail.outbox.clear()
    ingest(
        "/v1/batch",
        {
            "batch": [
                {
                    "type": "identify",
                    "userId": "u1",
                    "traits": {
                        "email": "hanako@example.co.jp",
                        "lastName": "佐藤",
                        "firstName": "花子",
                        "company": "桜製作所",
                    },
                },
                *track("hanako@example.co.jp", "Document Downloaded", 4),
            ]
        },
    )
    with django_capture_on_commit_callbacks(execute=True):
        score_all()
    lead = LeadView.objects.get()
    assert lead.stage == "mql"
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [rep.email]
    assert message.subject == "[mqlapp] New MQL: 佐藤 花子 (桜製作所) score 80.00"
    assert "Score: 80.00 (engagement 80.00, fit 0.00)" in message.body
    assert "  +80.00  Download (x4)" in message.body
    assert f"http://127.0.0.1:8000/leads/{lead.pk}/" in message.body
    assert Assignment.objects.get().notified_at is not None


def test_mails_are_in_the_site_language_japanese_by_default(
    ingest, make_user, rules, django_capture_on_commit_callbacks, settings
):
    """LANGUAGE_CODE=ja (the default): subject, wording and the score line in Japanese, family
    name first, the link on APP_BASE_URL; the SLA breach mail to admins too."""
    settings.LANGUAGE_CODE = "ja"
    settings.APP_BASE_URL = "http://127.0.0.1:8123"
    rep = make_user("sales")
    make_user("admin", username="boss")
    mail.outbox.clear()
    ingest(
        "/v1/batch",
        {
            "batch": [
                {
                    "type": "identify",
                    "userId": "u1",
                    "traits": {
                        "email": "hanako@example.co.jp",
                        "lastName": "佐藤",
                        "firstName": "花子",
                        "company": "桜製作所",
                    },
                },
                *track("hanako@example.co.jp", "Document Downloaded", 4),
            ]
        },
    )
    with django_capture_on_commit_callbacks(execute=True):
        score_all()
    lead = LeadView.objects.get()
    [message] = mail.outbox
    assert message.to == [rep.email]
    assert message.subject == "[mqlapp] 新しい MQL: 佐藤 花子（桜製作所）スコア 80.00"
    assert "あなたに割り当てられました。" in message.body
    assert "までに受け入れるか却下してください。" in message.body
    assert "スコア: 80.00（エンゲージメント 80.00、フィット 0.00）" in message.body
    assert f"http://127.0.0.1:8123/leads/{lead.pk}/" in message.body
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert mql_sla_sweep(now=timezone.now() + timedelta(days=30)) == 1
    [breach] = mail.outbox
    assert breach.subject == "[mqlapp] SLA 超過: 佐藤 花子（桜製作所）"
    assert "受け入れも却下もされませんでした" in breach.body
    assert "再割り当てはされていません。" in breach.body
