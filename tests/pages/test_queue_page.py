"""The MQL queue page: only the actions the stage allows, reasons in words, a labelled reject
(destructive, confirmed) and recycle (date shown), the active tab, overdue first, a ticking
countdown, and feedback that names the lead after each action."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from handoff.models import LeadView
from handoff.services import policy_update
from tests.conftest import signed_in
from tests.factories import lead_make

pytestmark = pytest.mark.django_db


def _mql(email, *, owner=None, due_in_hours=24, **fields):
    now = timezone.now()
    return lead_make(
        email=email,
        stage="mql",
        owner=owner,
        mql_at=now,
        sla_due_at=now + timedelta(hours=due_in_hours),
        cycle=1,
        **fields,
    )


def _row(page, lead):
    """The queue row of `lead` (its HTML, up to the next row)."""
    start = page.index(f'href="/leads/{lead.pk}/"')
    end = page.find('<tr class="queue-row', start)
    return page[start : end if end != -1 else len(page)]


def test_an_owned_lead_offers_no_claim_and_an_unassigned_one_does(make_user):
    rep = make_user("sales")
    mine = _mql("mine@example.co.jp", owner=rep)
    pool = _mql("pool@example.co.jp")

    page = signed_in(rep).get("/queue/").content.decode()

    assert f'action="/leads/{mine.pk}/claim/"' not in page
    assert f'action="/leads/{pool.pk}/claim/"' in page
    for lead in (mine, pool):
        for action in ("accept", "reject", "recycle"):
            assert f'action="/leads/{lead.pk}/{action}/"' in page


def test_reasons_are_words_and_reject_is_destructive_and_confirmed(make_user):
    rep = make_user("sales")
    lead = _mql("r@example.co.jp", owner=rep, last_name="佐藤", first_name="花子")

    en = signed_in(rep).get("/queue/").content.decode()
    ja = signed_in(rep, language="ja").get("/queue/").content.decode()

    assert '<option value="no_budget">No budget</option>' in en
    assert '<option value="student_or_job_seeker">Student or job seeker</option>' in en
    assert '<option value="no_budget">予算なし</option>' in ja
    assert not re.search(r">\s*(no_budget|bad_timing|competitor)\s*<", en + ja)  # no raw code
    row = _row(en, lead)
    assert "Reject 佐藤 花子 (disqualify)" in row  # the form's legend names the lead
    assert 'data-confirm="Reject 佐藤 花子? The lead leaves the queue' in row
    assert re.search(r'<button type="submit"\s+class="danger"\s+aria-label="Reject 佐藤 花子"', row)
    assert "console/confirm.js" in en


def test_recycle_shows_the_default_date_and_requires_one(make_user):
    policy_update(data={"default_recycle_days": 30})
    rep = make_user("sales")
    _mql("c@example.co.jp", owner=rep)

    page = signed_in(rep).get("/queue/").content.decode()

    expected = (timezone.localdate() + timedelta(days=30)).isoformat()
    assert re.search(rf'type="date"\s+name="reapproach_on"\s+value="{expected}"[^>]*required', page)
    assert "the policy's default: 30 days from today" in page


def test_the_active_tab_is_marked_and_counted(make_user):
    rep = make_user("sales")
    _mql("a@example.co.jp", owner=rep)
    _mql("b@example.co.jp")

    page = signed_in(rep).get("/queue/?show=mine").content.decode()

    current = re.findall(r'<a href="\?show=(\w+)"\s+aria-current="page">', page)
    assert current == ["mine"]
    counts = re.findall(r'<span class="count">(\d+)</span>', page)
    assert counts == ["2", "1", "1"]  # all, mine, unassigned
    unknown = signed_in(rep).get("/queue/?show=<script>").content.decode()
    assert re.findall(r'<a href="\?show=(\w+)"\s+aria-current="page">', unknown) == ["all"]


def test_overdue_leads_come_first_with_a_countdown(make_user):
    rep = make_user("sales")
    later = _mql("later@example.co.jp", owner=rep, due_in_hours=5)
    late = _mql("late@example.co.jp", owner=rep, due_in_hours=-2)

    page = signed_in(rep).get("/queue/").content.decode()

    assert page.index(f"/leads/{late.pk}/") < page.index(f"/leads/{later.pk}/")
    assert '<tr class="queue-row overdue">' in page
    assert page.count('<tr class="queue-row">') == 1
    assert page.count("data-due=") == 2
    # before the script ticks, the server's words (timeuntil: non-breaking spaces)
    assert re.search(r"overdue by 2\W+hours", page)
    assert re.search(r"4\W+hours, 59\W+minutes left", page)
    assert 'data-left="{t} left"' in page
    assert "console/queue.js" in page


@pytest.mark.parametrize(
    ("action", "data", "message"),
    [
        ("accept", {}, "Accepted 佐藤 花子 (株式会社サクラ)."),
        ("reject", {"reason": "no_budget"}, "Rejected 佐藤 花子 (株式会社サクラ) (No budget)."),
        (
            "recycle",
            {"reason": "bad_timing", "reapproach_on": "2031-04-01"},
            "Recycled 佐藤 花子 (株式会社サクラ): back to nurturing on April 1, 2031.",
        ),
        ("claim", {}, "Claimed 佐藤 花子 (株式会社サクラ): it is yours now."),
    ],
)
def test_each_action_says_what_happened_to_whom(make_user, action, data, message):
    rep = make_user("sales")
    lead = _mql(
        "hanako@example.co.jp",
        owner=None if action == "claim" else rep,
        last_name="佐藤",
        first_name="花子",
        company="株式会社サクラ",
        score=Decimal(120),
    )
    client = signed_in(rep)

    response = client.post(f"/leads/{lead.pk}/{action}/", {**data, "next": "/queue/"}, follow=True)

    assert response.redirect_chain[-1][0] == "/queue/"
    assert [str(m) for m in response.context["messages"]] == [message]
    assert message in response.content.decode()  # shown on the queue page


def test_feedback_is_in_japanese_and_a_refused_action_says_why(make_user):
    rep = make_user("sales")
    lead = _mql("j@example.co.jp", owner=rep, last_name="佐藤", first_name="花子")
    client = signed_in(rep, language="ja")

    ok = client.post(f"/leads/{lead.pk}/reject/", {"reason": "no_need"}, follow=True)
    again = client.post(f"/leads/{lead.pk}/accept/", {}, follow=True)

    assert [str(m) for m in ok.context["messages"]] == ["佐藤 花子 を却下しました（ニーズなし）。"]
    assert LeadView.objects.get(pk=lead.pk).stage == "disqualified"
    assert [m.level_tag for m in again.context["messages"]] == ["error"]
