"""Re-score jobs: built aside and swapped in at once, live scoring during a job, superseding,
coalescing, qualification on the way up and never back down, progress, recovery."""

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from handoff.lifecycle import Stage
from handoff.models import LeadView, Qualification
from handoff.services import policy_update
from mqlapp.leads import hooks
from mqlapp.leads.models import Event, Lead
from scoring.models import (
    LeadScore,
    RescoreJob,
    RescoreResult,
    ScoreHistory,
    ScoreQueue,
    ScoringState,
)
from scoring.services import (
    leads_score_enqueue,
    rescore_fail,
    rescore_finish,
    rescore_jobs_stalled,
    rescore_run,
    rescore_start,
    rescore_step,
    rule_create,
    rule_update,
)
from scoring.services.rescore import _claim
from scoring.tasks import rescore_sweep
from tests.factories import lead_make

from .conftest import score_all

pytestmark = pytest.mark.django_db
OPEN = {"name": "Open", "kind": "behavior", "event": "Email Opened", "points": 5}


def _leads(count, opens=1):
    """`count` leads with `opens` Email Opened events each, queued for scoring."""
    now = timezone.now()
    leads = Lead.objects.bulk_create(
        [Lead(email=f"r{i}-{uuid.uuid4().hex[:6]}@example.com") for i in range(count)]
    )
    hooks.leads_created(lead.pk for lead in leads)
    Event.objects.bulk_create(
        Event(message_id=str(uuid.uuid4()), lead=lead, type="track", name="Email Opened",
              timestamp=now - timedelta(hours=k + 1), received_at=now)
        for lead in leads for k in range(opens)
    )  # fmt: skip
    leads_score_enqueue([lead.pk for lead in leads])
    return leads


def _scores():
    return sorted(set(LeadView.objects.values_list("scoring__score", flat=True)))


def test_a_rule_change_is_applied_by_a_background_job(
    background_rescore, django_capture_on_commit_callbacks
):
    rule = rule_create(data=OPEN)
    rescore_run(RescoreJob.objects.get().pk)
    _leads(5, opens=2)
    score_all()
    assert _scores() == [Decimal("10.00")]

    with django_capture_on_commit_callbacks(execute=True):
        rule_update(rule, data={"points": 7})

    job = RescoreJob.objects.order_by("-id").first()
    assert (job.state, job.total, job.done, job.changed) == ("done", 5, 5, 5)
    assert _scores() == [Decimal("14.00")]
    assert set(LeadScore.objects.values_list("rules_version", flat=True)) == {job.pk}
    assert ScoringState.objects.get().version == job.pk
    assert ScoringState.objects.get().building_job is None
    assert not RescoreResult.objects.exists()
    assert ScoreHistory.objects.filter(cause="rules").count() == 5


def test_scores_are_swapped_in_all_at_once(background_rescore):
    rule = rule_create(data=OPEN)
    rescore_run(RescoreJob.objects.get().pk)
    _leads(5)
    score_all()
    rule_update(rule, data={"points": 9})
    job = RescoreJob.objects.order_by("-id").first()
    now = timezone.now()

    assert rescore_start(job.pk, now=now)
    assert rescore_step(job.pk, now=now, batch=2)
    assert rescore_step(job.pk, now=now, batch=2)
    # 4 of 5 built: the list still shows only the old rule set, and the job says so
    assert _scores() == [Decimal("5.00")]
    assert not rescore_finish(job.pk, now=now)
    job.refresh_from_db()
    assert (job.state, job.done, job.total) == ("running", 4, 5)
    assert RescoreResult.objects.filter(job=job).count() == 4

    assert rescore_step(job.pk, now=now, batch=2)
    assert not rescore_step(job.pk, now=now, batch=2)
    assert rescore_finish(job.pk, now=now)
    assert _scores() == [Decimal("9.00")]


def test_live_scoring_during_a_job_writes_both_rule_sets(background_rescore):
    rule = rule_create(data=OPEN)
    rescore_run(RescoreJob.objects.get().pk)
    (lead,) = _leads(1)
    score_all()
    rule_update(rule, data={"points": 9})
    job = RescoreJob.objects.order_by("-id").first()
    now = timezone.now()
    assert rescore_start(job.pk, now=now)
    assert rescore_step(job.pk, now=now)  # the job has built the lead: one open, 9

    # a second open arrives and is scored while the job is still building
    Event.objects.create(message_id="late", lead=lead, type="track", name="Email Opened",
                         timestamp=now, received_at=now)  # fmt: skip
    leads_score_enqueue([lead.pk])
    score_all()
    assert LeadView.objects.get(pk=lead.pk).score == Decimal("10.00")  # live: 2 × 5, old rules
    assert RescoreResult.objects.get(job=job, lead_id=lead.pk).score == Decimal("18.00")

    assert rescore_finish(job.pk, now=now)
    assert LeadView.objects.get(pk=lead.pk).score == Decimal("18.00")  # 2 × 9: nothing lost


def test_a_newer_change_supersedes_a_running_job(
    background_rescore, django_capture_on_commit_callbacks
):
    rule = rule_create(data=OPEN)
    rescore_run(RescoreJob.objects.get().pk)
    _leads(3)
    score_all()
    rule_update(rule, data={"points": 6})
    first = RescoreJob.objects.order_by("-id").first()
    now = timezone.now()
    assert rescore_start(first.pk, now=now)
    assert rescore_step(first.pk, now=now, batch=1)

    with django_capture_on_commit_callbacks(execute=True):
        rule_update(rule, data={"points": 8})

    first.refresh_from_db()
    second = RescoreJob.objects.order_by("-id").first()
    assert (first.state, second.state) == ("superseded", "done")
    assert _scores() == [Decimal("8.00")]
    assert rescore_run(first.pk) == "superseded"  # a late delivery does nothing
    assert not rescore_step(first.pk, now=now)
    assert _scores() == [Decimal("8.00")]


def test_quick_successive_changes_share_one_job(
    background_rescore, django_capture_on_commit_callbacks
):
    _leads(2)
    with django_capture_on_commit_callbacks(execute=True):
        rule_create(data=OPEN)
        rule_create(data={**OPEN, "name": "Open again", "points": 1})
        rule_create(data={**OPEN, "name": "Open thrice", "points": 2})

    job = RescoreJob.objects.get()
    assert (job.state, job.requests) == ("done", 3)  # one job covers the three changes
    assert "rule" in job.reason
    assert job.reason.count(";") == 2
    assert _scores() == [Decimal("8.00")]


def test_crossing_the_threshold_qualifies_and_falling_never_pulls_back(
    background_rescore, django_capture_on_commit_callbacks
):
    policy_update(data={"mql_threshold": 10})
    rule = rule_create(data=OPEN)
    rescore_run(RescoreJob.objects.get().pk)
    (two,) = _leads(1, opens=2)
    (one,) = _leads(1, opens=1)
    with django_capture_on_commit_callbacks(execute=True):
        score_all()
    assert LeadView.objects.get(pk=two.pk).stage == Stage.MQL  # 10
    assert LeadView.objects.get(pk=one.pk).stage == Stage.NURTURING  # 5

    with django_capture_on_commit_callbacks(execute=True):
        rule_update(rule, data={"points": 10})
    assert LeadView.objects.get(pk=one.pk).stage == Stage.MQL  # 10: qualified by the re-score

    with django_capture_on_commit_callbacks(execute=True):
        rule_update(rule, data={"points": 1})
    two = LeadView.objects.get(pk=two.pk)
    assert (two.score, two.stage) == (Decimal("2.00"), Stage.MQL)  # never pulled back
    assert Qualification.objects.filter(lead__in=[one, two]).count() == 2


def test_leads_created_during_a_job_are_scored_after_the_swap(background_rescore):
    rule = rule_create(data=OPEN)
    rescore_run(RescoreJob.objects.get().pk)
    _leads(2)
    score_all()
    rule_update(rule, data={"points": 9})
    job = RescoreJob.objects.order_by("-id").first()
    now = timezone.now()
    assert rescore_start(job.pk, now=now)
    late = lead_make(email="late@example.com")  # not queued, not seen by the job

    while rescore_step(job.pk, now=now):
        pass
    assert rescore_finish(job.pk, now=now)

    assert ScoreQueue.objects.filter(lead_id=late.pk).exists()


def test_a_failed_job_leaves_the_published_rules(background_rescore):
    rule = rule_create(data=OPEN)
    rescore_run(RescoreJob.objects.get().pk)
    _leads(2)
    score_all()
    rule_update(rule, data={"points": 9})
    job = RescoreJob.objects.order_by("-id").first()
    assert rescore_start(job.pk, now=timezone.now())

    rescore_fail(job.pk, error="boom", now=timezone.now())

    job.refresh_from_db()
    state = ScoringState.objects.get()
    assert (job.state, job.error, state.building_job_id) == ("failed", "boom", None)
    assert _scores() == [Decimal("5.00")]
    assert not RescoreResult.objects.exists()


def test_the_sweep_resumes_a_job_whose_task_was_lost(background_rescore):
    rule = rule_create(data=OPEN)
    rescore_run(RescoreJob.objects.get().pk)
    _leads(2)
    score_all()
    rule_update(rule, data={"points": 3})  # its task is never sent (no commit here)
    job = RescoreJob.objects.order_by("-id").first()
    assert rescore_jobs_stalled(now=timezone.now()) == []
    RescoreJob.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(minutes=2))

    assert rescore_jobs_stalled(now=timezone.now()) == [job.pk]
    assert rescore_sweep.apply().get() == 1

    job.refresh_from_db()
    assert job.state == "done"
    assert _scores() == [Decimal("3.00")]


def test_progress_is_visible_while_a_job_runs(api, background_rescore):
    rule = rule_create(data=OPEN)
    rescore_run(RescoreJob.objects.get().pk)
    _leads(3)
    score_all()
    client = api("marketer")
    answer = client.patch(f"/api/scoring/rules/{rule.pk}/", {"points": 2}, format="json").json()
    job_id = answer["rescore"]["id"]
    assert (answer["rescore"]["state"], answer["rescore"]["total"]) == ("queued", 3)
    now = timezone.now()
    rescore_start(job_id, now=now)
    rescore_step(job_id, now=now, batch=2)

    progress = client.get("/api/scoring/rescore/").json()

    assert (progress["id"], progress["state"], progress["total"], progress["done"]) == (
        job_id,
        "running",
        3,
        2,
    )


def test_several_runners_share_a_job_and_a_dead_runners_range_is_built_by_another(
    background_rescore,
):
    rule = rule_create(data=OPEN)
    rescore_run(RescoreJob.objects.get().pk)
    leads = _leads(7)
    score_all()
    rule_update(rule, data={"points": 3})
    job = RescoreJob.objects.order_by("-id").first()
    now = timezone.now()
    assert rescore_start(job.pk, now=now)
    assert rescore_start(job.pk, now=now)  # a second runner joins the running job

    # runner A claims the first two leads and dies before building them
    assert _claim(job.pk, now=now, batch=2) == (0, leads[1].pk)
    # runner B takes the next ranges, then builds what A left, and finishes
    assert rescore_step(job.pk, now=now, batch=2)  # leads 3-4
    assert rescore_step(job.pk, now=now, batch=2)  # leads 5-6
    assert rescore_step(job.pk, now=now, batch=2)  # lead 7
    assert not rescore_finish(job.pk, now=now)  # A's range is missing: not yet
    built = set(RescoreResult.objects.filter(job=job).values_list("lead_id", flat=True))
    assert built == {lead.pk for lead in leads[2:]}
    assert rescore_step(job.pk, now=now, batch=2)  # every range claimed: A's is rebuilt
    assert not rescore_step(job.pk, now=now, batch=2)
    assert rescore_finish(job.pk, now=now)

    job.refresh_from_db()
    assert (job.state, job.done, job.total, job.changed) == ("done", 7, 7, 7)
    assert _scores() == [Decimal("3.00")]
    # a runner late with its results after the swap changes nothing
    assert not rescore_step(job.pk, now=now, batch=2)
    assert not RescoreResult.objects.exists()
