"""Lead data from messages is a function of the stored messages: per field the latest
timestamp wins (ties: the greater messageId), a replayed messageId changes nothing, and a
person's edit wins until a newer message arrives (docs/ingestion.md). Through /v1 on the real
database, scored by the real scoring path."""

import itertools
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handoff.models import LeadView
from mqlapp.leads.ingest.imports import lead_import_create, lead_import_run
from mqlapp.leads.models import Event, Identity, Lead
from scoring.services import rule_create

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 4, 1, 9, 0, tzinfo=UTC)


def at(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


def identify(message_id, email, minutes, **traits):
    return {
        "type": "identify",
        "messageId": message_id,
        "userId": email,
        "timestamp": at(minutes),
        "traits": {"email": email, **traits},
    }


@pytest.fixture
def ceo_rule(db):
    """Fit: a CEO is worth 30 points."""
    conditions = [{"field": "title", "op": "eq", "value": "CEO"}]
    return rule_create(data={"name": "CEO", "kind": "fit", "points": 30, "conditions": conditions})


def lead_of(email):
    return LeadView.objects.get(email=email)


def test_a_replayed_identify_changes_neither_the_data_nor_the_fit_score(batch, ceo_rule):
    m1 = identify("m1", "ceo@example.com", 0, title="Intern")
    m2 = identify("m2", "ceo@example.com", 5, title="CEO")
    batch(m1)
    batch(m2)
    assert (lead_of("ceo@example.com").title, lead_of("ceo@example.com").fit) == ("CEO", 30)

    batch(m1)  # an SDK retry, or a replay by anyone who saw the message

    lead = lead_of("ceo@example.com")
    assert (lead.title, lead.fit, lead.score) == ("CEO", 30, 30)


def test_a_replay_with_other_data_under_the_same_message_id_applies_nothing(batch):
    batch(identify("m1", "same@example.com", 0, title="Intern"))
    batch(identify("m1", "same@example.com", 10, title="CEO", company="Forged"))
    lead = lead_of("same@example.com")
    assert (lead.title, lead.company) == ("Intern", "")


def test_an_older_identify_arriving_later_does_not_overwrite_newer_data(batch, ceo_rule):
    batch(identify("m2", "late@example.com", 5, title="CEO", company="New Co"))
    batch(identify("m1", "late@example.com", 0, title="Intern", company="Old Co", phone="03-1"))
    lead = lead_of("late@example.com")
    # newer fields stay; a field only the older message carries is still its data
    assert (lead.title, lead.company, lead.phone, lead.fit) == ("CEO", "New Co", "03-1", 30)


def test_out_of_order_in_one_batch_and_traits_follow_the_same_rule(batch):
    batch(
        identify("m2", "batch@example.com", 5, title="CEO", plan="enterprise"),
        identify("m1", "batch@example.com", 0, title="Intern", plan="free", source="ad"),
    )
    lead = lead_of("batch@example.com")
    assert lead.title == "CEO"
    assert (lead.traits["plan"], lead.traits["source"]) == ("enterprise", "ad")


def test_equal_timestamps_are_settled_by_the_greater_message_id(batch):
    for order in (("a", "b"), ("b", "a")):
        email = f"tie-{''.join(order)}@example.com"
        titles = {"a": "Intern", "b": "CEO"}
        for message_id in order:
            batch(identify(f"{email}-{message_id}", email, 0, title=titles[message_id]))
        assert lead_of(email).title == "CEO"


def test_the_same_value_sent_again_later_keeps_a_middle_value_out(batch):
    # CEO at 0 and at 10; Intern at 5 arrives last: the latest data (10, CEO) wins
    batch(identify("x1", "keep@example.com", 0, title="CEO"))
    batch(identify("x3", "keep@example.com", 10, title="CEO"))
    batch(identify("x2", "keep@example.com", 5, title="Intern"))
    assert lead_of("keep@example.com").title == "CEO"


def test_a_persons_edit_wins_until_a_newer_message_arrives(batch, api):
    batch(identify("e1", "edit@example.com", 0, title="Intern"))
    lead = lead_of("edit@example.com")
    marketer = api("marketer")
    answer = marketer.patch(f"/api/leads/{lead.pk}/", {"title": "Manager"}, format="json")
    assert answer.status_code == 200, answer.content

    # sent before the edit (T0 is in the past), delivered after it: the edit stays
    batch(identify("e2", "edit@example.com", 30, title="Director"))
    assert lead_of("edit@example.com").title == "Manager"

    # sent after the edit: the message wins
    later = datetime.now(UTC) + timedelta(minutes=1)
    newer = identify("e3", "edit@example.com", 0, title="VP")
    newer["timestamp"] = later.isoformat()
    batch(newer)
    assert lead_of("edit@example.com").title == "VP"


def test_an_edit_that_blanks_a_field_is_not_refilled_by_older_messages(batch, api):
    batch(identify("b1", "blank@example.com", 0, department="Sales"))
    lead = lead_of("blank@example.com")
    assert (
        api("marketer")
        .patch(f"/api/leads/{lead.pk}/", {"department": ""}, format="json")
        .status_code
        == 200
    )
    batch(identify("b2", "blank@example.com", 1, department="Marketing"))
    assert lead_of("blank@example.com").department == ""


def test_a_replayed_identify_does_not_move_a_shared_browser_back(batch):
    def on_shared_pc(message):
        del message["userId"]
        return {**message, "anonymousId": "shared-pc"}

    first = on_shared_pc(identify("s1", "first@example.com", 0))
    batch(first)
    batch(on_shared_pc(identify("s2", "second@example.com", 5)))
    batch(first)  # replayed: the browser stays with the person who identified last
    batch({"type": "page", "anonymousId": "shared-pc", "messageId": "p-after"})
    assert Identity.objects.get(value="shared-pc").lead.email == "second@example.com"
    assert Event.objects.get(message_id="p-after").lead.email == "second@example.com"


def test_a_merge_keeps_the_later_data_of_the_two_leads(batch):
    batch(identify("o1", "old@example.com", 10, title="CEO", company="Old Co"))
    batch(identify("n1", "new@example.com", 0, title="Intern", department="R&D"))
    batch(identify("n2", "new@example.com", 20, company="New Co"))
    batch({"type": "alias", "previousId": "new@example.com", "userId": "old@example.com"})
    lead = Lead.objects.get()
    # title: CEO (10) beats Intern (0); company: New Co (20) beats Old Co (10); R&D fills a blank
    assert (lead.email, lead.title, lead.company, lead.department) == (
        "old@example.com",
        "CEO",
        "New Co",
        "R&D",
    )


# --- CSV imports and forms follow the same rule ------------------------------------------------


def _import(text, captured):
    with captured(execute=True):
        job = lead_import_create(filename="list.csv", data=text.encode())
    with captured(execute=True):
        return lead_import_run(job.pk)


def test_in_a_file_the_last_row_of_an_email_wins(django_capture_on_commit_callbacks):
    rows = "".join(f"row@example.com,title {n}\n" for n in range(2, 13))  # rows 2 to 12
    job = _import("email,title\n" + rows, django_capture_on_commit_callbacks)
    assert (job.status, job.created) == ("done", 1)
    assert Lead.objects.get().title == "title 12"


def test_an_older_list_does_not_overwrite_newer_messages(batch, django_capture_on_commit_callbacks):
    batch(identify("n1", "list@example.com", 0, title="CEO"))  # 2025-04-01
    text = "email,title,company,date\nlist@example.com,Intern,ACME,2024/10/01\n"
    assert _import(text, django_capture_on_commit_callbacks).status == "done"
    lead = Lead.objects.get()
    assert (lead.title, lead.company) == ("CEO", "ACME")
    # a list dated later than the message: its data wins
    text = "email,title,date\nlist@example.com,COO,2025/05/01\n"
    assert _import(text, django_capture_on_commit_callbacks).status == "done"
    assert Lead.objects.get().title == "COO"


# --- any order, any duplication: the same lead data ------------------------------------------

TITLES = st.sampled_from(["", "Intern", "CEO", "部長"])
COMPANIES = st.sampled_from(["", "ACME", "株式会社さくら"])
PLANS = st.sampled_from([None, "free", "pro"])
SPECS = st.lists(
    st.tuples(st.integers(0, 3), TITLES, COMPANIES, PLANS), min_size=1, max_size=5
)  # (minute, title, company, plan): equal minutes make ties for the messageId to settle


def _messages(specs, email, run):
    messages = []
    for number, (minute, title, company, plan) in enumerate(specs):
        traits = {"title": title, "company": company}
        if plan is not None:
            traits["plan"] = plan
        messages.append(identify(f"{run}-{number}", email, minute, **traits))
    return messages


def latest(specs, field):
    """The value of the message with the latest (minute, messageId) that carries one."""
    present = [(s[0], n, s[field]) for n, s in enumerate(specs) if s[field] not in ("", None)]
    return max(present)[2] if present else None


def _data(email):
    lead = Lead.objects.get(email=email)
    return (lead.title, lead.company, lead.traits.get("plan"))


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(specs=SPECS, data=st.data())
def test_any_order_and_duplication_of_identifies_gives_the_same_lead_data(batch, specs, data):
    run = uuid.uuid4().hex[:12]  # examples share the test's database: their own ids
    # in order, each once
    ordered_email = f"ordered-{run}@example.com"
    for message in _messages(specs, ordered_email, run + "o"):
        batch(message)
    # shuffled, some sent twice, split into batches of any size
    shuffled_email = f"shuffled-{run}@example.com"
    messages = _messages(specs, shuffled_email, run + "s")
    sent = data.draw(st.permutations(messages + data.draw(st.lists(st.sampled_from(messages)))))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(sent)), max_size=3)))
    for start, end in itertools.pairwise([0, *cuts, len(sent)]):
        if sent[start:end]:
            batch(*sent[start:end])

    assert _data(shuffled_email) == _data(ordered_email)
    # and it is the rule: per field, the latest (time, messageId) of a non-empty value
    assert _data(shuffled_email) == (
        latest(specs, 1) or "",
        latest(specs, 2) or "",
        latest(specs, 3),
    )


def test_an_identify_identified_later_in_its_own_batch_applies_its_traits(batch):
    early = identify("q1", "x@example.com", 0, department="情報システム部", title="課長")
    del early["userId"], early["traits"]["email"]
    early["anonymousId"] = "a-q"
    later = identify("q2", "quick@example.com", 5, title="部長")
    del later["userId"]
    later["anonymousId"] = "a-q"
    batch(early, later)
    lead = Lead.objects.get()
    assert (lead.email, lead.department, lead.title) == (
        "quick@example.com",
        "情報システム部",
        "部長",
    )
