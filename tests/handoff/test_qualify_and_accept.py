"""Threshold → MQL exactly once, round robin assignment, the queue, accept and history."""

import uuid
from decimal import Decimal

import pytest

from handoff.models import LeadLifecycle, LeadView, Qualification, QualifyQueue, StageTransition
from handoff.qualify import leads_qualify_pending, qualify_enqueue
from handoff.services import policy_update
from scoring.models import ScoreQueue
from scoring.services import leads_score_enqueue, rule_create
from scoring.services import leads_score_pending as scoring_pending
from tests.factories import lead_make, score_set
from tests.pipeline import leads_score_pending

pytestmark = pytest.mark.django_db


def _track(email, event, n=1):
    return [
        {
            "type": "track",
            "userId": email,
            "event": event,
            "messageId": str(uuid.uuid4()),
            "context": {"traits": {"email": email}},
        }
        for _ in range(n)
    ]


def _score_all():
    while leads_score_pending(limit=100):
        pass


@pytest.fixture
def rules(db):
    rule_create(
        data={"name": "Download", "kind": "behavior", "event": "Document Downloaded", "points": 20}
    )
    policy_update(data={"mql_threshold": 60})


def test_crossing_the_threshold_makes_one_mql_assigned_round_robin(ingest, make_user, rules, api):
    rep_a, rep_b = make_user("sales"), make_user("sales")
    for email in ("a@x.example", "b@x.example", "c@x.example"):
        ingest("/v1/batch", {"batch": _track(email, "Document Downloaded", 3)})
    _score_all()
    leads = list(LeadView.objects.order_by("email"))
    assert [lead.stage for lead in leads] == ["mql", "mql", "mql"]
    assert [lead.score for lead in leads] == [60, 60, 60]
    assert [lead.owner_id for lead in leads] == [rep_a.pk, rep_b.pk, rep_a.pk]
    # more events over the threshold do not qualify again
    ingest("/v1/batch", {"batch": _track("a@x.example", "Document Downloaded", 2)})
    _score_all()
    assert Qualification.objects.count() == 3
    assert StageTransition.objects.filter(to_stage="mql").count() == 3


def test_below_the_threshold_stays_nurturing(ingest, rules):
    ingest("/v1/batch", {"batch": _track("a@x.example", "Document Downloaded", 2)})
    _score_all()
    lead = LeadView.objects.get()
    assert (lead.stage, lead.score) == ("nurturing", 40)


def test_score_endpoint_breakdown_adds_up(ingest, rules, api):
    ingest("/v1/batch", {"batch": _track("a@x.example", "Document Downloaded", 2)})
    _score_all()
    lead = LeadView.objects.get()
    body = api("sales").get(f"/api/leads/{lead.pk}/score/").json()
    assert body["score"] == 40
    assert body["breakdown"] == [
        {
            "rule_id": body["breakdown"][0]["rule_id"],
            "rule": "Download",
            "kind": "behavior",
            "count": 2,
            "points": 40.0,
        }
    ]


def test_rep_sees_own_mql_in_queue_and_accepts(ingest, make_user, rules):
    from tests.conftest import client_for

    rep = make_user("sales")
    other = make_user("sales", available=False)
    ingest("/v1/batch", {"batch": _track("a@x.example", "Document Downloaded", 3)})
    _score_all()
    lead = LeadView.objects.get()
    assert lead.owner_id == rep.pk
    client = client_for(rep)
    queue = client.get("/api/handoff/queue/").json()
    assert [item["id"] for item in queue] == [lead.pk]
    assert queue[0]["overdue"] is False
    assert queue[0]["sla_due_at"]
    assert client_for(other).get("/api/handoff/queue/").json() == []
    accepted = client.post(f"/api/handoff/leads/{lead.pk}/accept/")
    assert accepted.status_code == 200
    assert accepted.json()["stage"] == "sal"
    again = client.post(f"/api/handoff/leads/{lead.pk}/accept/")
    assert again.status_code == 409
    assert again.json()["stage"] == "sal"
    history = client.get(f"/api/leads/{lead.pk}/history/").json()
    assert [(h["from"], h["to"]) for h in history] == [("nurturing", "mql"), ("mql", "sal")]
    assert history[0]["score"] == 60
    assert history[1]["by"] == rep.username


def test_another_reps_lead_is_403(ingest, make_user, rules):
    from tests.conftest import client_for

    make_user("sales")
    intruder = make_user("sales", available=False)
    ingest("/v1/batch", {"batch": _track("a@x.example", "Document Downloaded", 3)})
    _score_all()
    lead = LeadView.objects.get()
    response = client_for(intruder).post(f"/api/handoff/leads/{lead.pk}/accept/")
    assert response.status_code == 403
    assert LeadView.objects.get().stage == "mql"


def test_fast_track_event_qualifies_at_once(ingest, make_user, rules):
    make_user("sales")
    ingest("/v1/batch", {"batch": _track("a@x.example", "Demo Requested")})
    _score_all()
    lead = LeadView.objects.get()
    assert lead.stage == "mql"
    assert Qualification.objects.get().reason == "fast_track"


def test_lowering_the_threshold_qualifies_leads_above_it(
    ingest, make_user, rules, django_capture_on_commit_callbacks
):
    make_user("sales")
    ingest("/v1/batch", {"batch": _track("a@x.example", "Document Downloaded", 2)})
    _score_all()
    assert LeadView.objects.get().stage == "nurturing"
    with django_capture_on_commit_callbacks(execute=True):
        policy_update(data={"mql_threshold": 40})
    assert LeadView.objects.get().stage == "mql"


@pytest.mark.parametrize(
    ("sent", "raised"),
    [
        ("DEMO REQUESTED", True),  # found by the index on track names (lower-cased ASCII)
        # Not ASCII (a long s), yet casefolded it is the fast-track name: the index cannot
        # hold it, so the lookup hands it to Python's rule.
        ("Demo Reque\u017fted", True),
        ("Demo Requested Later", False),
    ],
)
def test_a_fast_track_event_is_found_by_the_engines_name_rule(
    ingest, make_user, rules, sent, raised
):
    """The lookup reads only events of the fast-track names from the database; the engine's
    rule (name_key) still decides, including for names the index cannot hold."""
    make_user("sales")
    ingest("/v1/batch", {"batch": _track("a@x.example", sent)})
    _score_all()
    assert LeadView.objects.get().stage == ("mql" if raised else "nurturing")


def test_a_back_fill_is_qualified_in_full_batches_while_its_scoring_goes_on(settings):
    """Scoring hands a back-fill's leads over a hundred at a time, and a batch costs about as
    much to qualify whatever its size: while more of them wait to be scored, handoff takes
    them a full batch at a time (or once the first has waited QUALIFY_BULK_WAIT_SECONDS),
    and the rest at once when scoring is done. A live lead never waits."""
    settings.QUALIFY_BULK_WAIT_SECONDS = 60
    policy_update(data={"mql_threshold": 10})
    back_fill, live, unscored = [lead_make().pk for _ in range(3)], lead_make().pk, lead_make()
    for pk in [*back_fill, live]:
        score_set(pk, score=Decimal(50))
    ScoreQueue.append([unscored.pk], bulk=True)  # the same back-fill, still to be scored
    qualify_enqueue(back_fill, bulk=True)
    qualify_enqueue([live])

    assert leads_qualify_pending(limit=5) == 1  # the live lead only
    assert leads_qualify_pending(limit=5) == 0  # 3 of a batch of 5, and scoring goes on
    assert leads_qualify_pending(limit=3) == 3  # a full batch
    assert set(LeadLifecycle.objects.filter(stage="mql").values_list("lead_id", flat=True)) == {
        *back_fill,
        live,
    }

    later = lead_make().pk
    score_set(later, score=Decimal(50))
    qualify_enqueue([later], bulk=True)
    assert leads_qualify_pending(limit=5) == 0
    ScoreQueue.objects.all().delete()  # scoring is done with the back-fill
    assert leads_qualify_pending(limit=5) == 1
    assert LeadLifecycle.objects.get(lead_id=later).stage == "mql"


def test_a_back_fill_batch_is_handed_to_handoff_as_a_back_fill():
    lead, visitor = lead_make().pk, lead_make().pk
    leads_score_enqueue([lead], bulk=True)
    leads_score_enqueue([visitor])

    assert scoring_pending(limit=10) == 1
    assert scoring_pending(limit=10) == 1
    assert sorted(QualifyQueue.objects.values_list("lead_id", "bulk")) == [
        (lead, True),
        (visitor, False),
    ]
