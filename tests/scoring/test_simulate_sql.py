"""The simulator's SQL pass for draft behaviour rules (scoring/services/simulate_sql.py),
and its count over columns (simulate_columns.py), equal the engine, lead by lead, on
generated events and rules on real PostgreSQL: every lead it answers for gets the engine's
contribution to the cent, and it declines only leads it cannot answer exactly (a track name
only Python folds, a total at a half cent)."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import orjson
import pytest
from django.core.cache import cache
from django.utils import timezone

from mqlapp.leads.models import Event
from scoring import engine
from scoring.engine import Condition, Rule, Scorer
from scoring.services import simulate_sql
from scoring.services.loader import events_load
from scoring.services.simulate_sql import contributions, contributions_at, rules_split
from tests.conftest import requires_postgres
from tests.factories import lead_make, score_set

pytestmark = [pytest.mark.django_db, requires_postgres]


@pytest.fixture(autouse=True, params=["columns", "statement"])
def counting(request, settings):
    """Every test twice: behaviour rules counted over columns (scoring/services/
    simulate_columns.py, the default) and in the SQL statement."""
    settings.SCORING_SIMULATE_COLUMNS = request.param == "columns"
    return request.param


NAMES = ["Document Downloaded", "document downloaded", "Email Opened", "Straße"]
# a name only Python's folding matches (its lead goes to the engine): now and then
RARE_NAME = "Document Downloaded "
VALUES = ["pricing", "Pricing", "PRICING ", "docs", "", "250", " 250 ", 250, 250.0, 2.5, True,
          None, ["pricing"], {"a": 1}]  # fmt: skip
EXPECTED = ["pricing", "250", 250, True, "", "pri", ["pricing", "docs"], 0]


def _rule(rng: random.Random, rule_id: int) -> Rule:
    conditions = tuple(
        Condition(
            rng.choice(["properties.category", "properties.doc.lang", "context.page.path"]),
            rng.choice(sorted(engine.OPS)),
            rng.choice(EXPECTED),
        )
        for _ in range(rng.choice([0, 0, 1, 2]))
    )
    points = Decimal(rng.choice(["20", "2.5", "-7.35", "1", "0.01", "33.333", "0.005"]))
    if rng.random() < 0.25:
        return Rule(
            rule_id, f"rule {rule_id}", "inactivity", points,
            after_event=rng.choice(["Document Downloaded", "page", "Email Opened"]),
            watch_events=tuple(rng.sample(["page", "Email Opened", "document downloaded"],
                                          rng.choice([0, 1, 2]))),
            inactive_days=Decimal(rng.choice(["0.5", "1", "3", "14", "-1"])),
            conditions=conditions,
        )  # fmt: skip
    fading = rng.choice(["none", "half", "expire", "both"])
    max_times = rng.choice([None, None, 0, 1, 3])
    return Rule(
        rule_id, f"rule {rule_id}", "behavior", points,
        event=rng.choice(["Document Downloaded", "page", "Email Opened"]),
        conditions=conditions, max_times=max_times,
        # a cap per window: most leads here crowd some window (those go to the engine)
        window_days=Decimal(rng.choice(["0.5", "2", "7"]))
        if max_times is not None and rng.random() < 0.4 else None,
        half_life_days=Decimal(rng.choice(["0.5", "3", "30", "45"]))
        if fading in ("half", "both") else None,
        expire_after_days=Decimal(rng.choice(["1", "7", "2.5"]))
        if fading in ("expire", "both") else None,
    )  # fmt: skip


def _name(rng: random.Random) -> str:
    return RARE_NAME if rng.random() < 0.02 else rng.choice(NAMES)


def _message_id(rng: random.Random, used: set[str]) -> str:
    """Short and long ids, some sharing a prefix (ties sort by id), each once: the store keeps
    a messageId once (EventKey), and the order of two events with one id and one time is
    defined nowhere (seeded, so a failing seed fails again)."""
    while True:
        text = rng.choice(["", "m-"]) + f"{rng.getrandbits(128):032x}"[: rng.choice([3, 32])]
        if text not in used:
            used.add(text)
            return text


def _stored_leads(rng: random.Random, now, count: int) -> list[int]:
    ids, rows, used = [], [], set()
    for _ in range(count):
        lead = lead_make()
        ids.append(lead.pk)
        if rng.random() < 0.3:
            score_set(lead.pk, epoch=now - timedelta(days=rng.randint(0, 20)))
        for _ in range(rng.randint(0, 12)):
            kind = rng.choice(["track", "track", "page", "identify"])
            properties = {}
            if rng.random() < 0.7:
                properties["category"] = rng.choice(VALUES)
            if rng.random() < 0.3:
                properties["doc"] = {"lang": rng.choice(VALUES)}
            # whole hours and minutes: ties between events, and ages at an expiry's edge
            at = now - timedelta(hours=rng.randint(-24, 40 * 24), minutes=rng.choice([0, 0, 30]))
            rows.append(Event(
                message_id=_message_id(rng, used),
                lead_id=lead.pk, type=kind, name=_name(rng) if kind == "track" else "",
                timestamp=at, received_at=now, properties=properties,
                context={"page": {"path": rng.choice(["/pricing/a", "/docs"])}}
                if rng.random() < 0.5 else {},
            ))  # fmt: skip
    Event.objects.bulk_create(rows)
    return ids


@pytest.mark.parametrize("seed", range(12))
def test_each_answered_lead_gets_the_engines_contribution(seed):
    rng = random.Random(seed)
    now = timezone.now().replace(microsecond=0)
    ids = _stored_leads(rng, now, 25)
    rules = [_rule(rng, i + 1) for i in range(4)]

    counted, rest = rules_split(rules, fast=True)
    assert not rest
    assert len(counted) == len(rules)
    found, declined = contributions(counted, low=min(ids), high=max(ids), now=now)

    # the engine, lead by lead, on what the loader loads for these rules
    from scoring.services.simulate_base import lead_rows

    events = events_load(ids, plan=engine.needs(rules), fast=True)
    scorer = Scorer(rules)
    answered = 0
    for row in lead_rows(ids):
        if row.id in declined:
            continue
        answered += 1
        expected = scorer.evaluate(row.facts(events.get(row.id, ())), now=now).score
        assert found.get(row.id, Decimal(0)) == expected, (row.id, rules)
    # half cents are common in this data (exact binary weights): declined, as they must be
    assert answered >= 5


def _events_at(lead_id: int, now, *hours_ago: float, kind="page", name="") -> None:
    Event.objects.bulk_create([
        Event(message_id=f"{lead_id}-{kind}-{name}-{i}", lead_id=lead_id, type=kind, name=name,
              timestamp=now - timedelta(hours=hours), received_at=now)
        for i, hours in enumerate(hours_ago)
    ])  # fmt: skip


def _engine_score(rules, lead_ids, now) -> dict[int, Decimal]:
    from scoring.services.simulate_base import lead_rows

    events = events_load(lead_ids, plan=engine.needs(rules), fast=True)
    scorer = Scorer(rules)
    return {
        row.id: scorer.evaluate(row.facts(events.get(row.id, ())), now=now).score
        for row in lead_rows(lead_ids)
    }


def _running_rule(rng: random.Random, rule_id: int) -> Rule:
    """A rule whose SQL answer follows a running choice: a cap per window, or inactivity
    after an event (no half-lives: no lead is left to the engine for a half cent)."""
    conditions = tuple(
        Condition("properties.category", rng.choice(["eq", "contains", "exists"]),
                  rng.choice(["pricing", "250"]))
        for _ in range(rng.choice([0, 0, 1]))
    )  # fmt: skip
    event = rng.choice(["Document Downloaded", "page", "Email Opened"])
    points = Decimal(rng.choice(["20", "-7.35", "0.005"]))
    if rng.random() < 0.5:
        return Rule(
            rule_id, f"rule {rule_id}", "inactivity", points, after_event=event,
            watch_events=tuple(rng.sample(["page", "Email Opened", "document downloaded"],
                                          rng.choice([0, 1, 2]))),
            inactive_days=Decimal(rng.choice(["0.5", "1", "3", "14"])), conditions=conditions,
        )  # fmt: skip
    return Rule(
        rule_id, f"rule {rule_id}", "behavior", points, event=event, conditions=conditions,
        max_times=rng.choice([1, 2, 3]), window_days=Decimal(rng.choice(["0.5", "2", "7"])),
        expire_after_days=rng.choice([None, Decimal(20)]),
    )  # fmt: skip


@pytest.mark.parametrize("seed", range(8))
def test_windowed_caps_and_inactivity_equal_the_engine(seed):
    rng = random.Random(1000 + seed)
    now = timezone.now().replace(microsecond=0)
    ids = _stored_leads(rng, now, 40)
    rules = [_running_rule(rng, i + 1) for i in range(3)]

    counted, rest = rules_split(rules, fast=True)
    found, declined = contributions(counted, low=min(ids), high=max(ids), now=now)

    assert rest == ()
    expected = _engine_score(rules, ids, now)
    answered = {i: found.get(i, Decimal(0)) for i in ids if i not in declined}
    assert answered == {i: expected[i] for i in answered}, rules
    # most leads are answered, many with points (a crowded window is the usual decline)
    assert len(answered) >= 15
    assert sum(1 for points in answered.values() if points) >= 3


@pytest.mark.parametrize("seed", range(8))
def test_each_outcome_gets_the_engines_contribution_at_its_own_moment(seed):
    """The backtest's form: each subject is a lead's events up to a moment, from an epoch
    on, scored at that moment (not the range's `now`, not the stored epoch)."""
    from scoring.services.simulate_base import lead_rows

    rng = random.Random(2000 + seed)
    now = timezone.now().replace(microsecond=0)
    ids = _stored_leads(rng, now, 25)
    rules = [(_running_rule if rng.random() < 0.5 else _rule)(rng, i + 1) for i in range(3)]
    subjects = []
    for key in range(40):
        at = now - timedelta(hours=rng.randint(0, 30 * 24), minutes=rng.choice([0, 30]))
        epoch = rng.choice([None, None, at - timedelta(days=rng.randint(1, 20))])
        subjects.append((key, rng.choice(ids), at, epoch))

    counted, rest = rules_split(rules, fast=True)
    found, declined = contributions_at(counted, subjects)

    assert rest == ()
    events = events_load(ids, plan=engine.needs(rules), fast=True)
    rows = {row.id: row for row in lead_rows(ids)}
    scorer = Scorer(rules)
    answered = 0
    for key, lead_id, at, epoch in subjects:
        if key in declined:
            continue
        answered += 1
        seen = [e for e in events.get(lead_id, ()) if e.timestamp <= at]
        expected = scorer.evaluate(rows[lead_id].facts(seen, epoch=epoch), now=at).score
        assert found.get(key, Decimal(0)) == expected, (key, rules)
    assert answered >= 10


def test_a_track_name_only_python_folds_sends_its_lead_to_the_engine():
    now = timezone.now()
    lead = lead_make()
    Event.objects.create(
        message_id="x1", lead_id=lead.pk, type="track", name=" Document Downloaded",
        timestamp=now - timedelta(days=1), received_at=now,
    )  # fmt: skip
    rule = Rule(1, "r", "behavior", Decimal(5), event="Document Downloaded")

    counted, _ = rules_split([rule], fast=True)
    found, declined = contributions(counted, low=lead.pk, high=lead.pk, now=now)

    assert declined == {lead.pk}
    assert found == {}
    # the engine counts it: the name, stripped and folded, is the rule's
    events = events_load([lead.pk], plan=engine.needs([rule]), fast=True)
    assert len(events[lead.pk]) == 1


def test_a_windowed_cap_counts_every_event_until_a_window_is_full():
    now = timezone.now().replace(microsecond=0)
    apart, crowded, edge = lead_make(), lead_make(), lead_make()
    _events_at(apart.pk, now, 1, 30, 60)  # a day and more apart
    _events_at(crowded.pk, now, 1, 5, 30, 60)  # two within a day: the cap's running choice
    _events_at(edge.pk, now, 1, 25, 49)  # exactly a day apart: the window is not full
    rule = Rule(1, "w", "behavior", Decimal(3), event="page", max_times=1,
                window_days=Decimal(1))  # fmt: skip

    counted, rest = rules_split([rule], fast=True)
    found, declined = contributions(counted, low=apart.pk, high=edge.pk, now=now)

    assert rest == ()
    assert declined == {crowded.pk}
    expected = _engine_score([rule], [apart.pk, crowded.pk, edge.pk], now)
    assert found == {apart.pk: expected[apart.pk], edge.pk: expected[edge.pk]}
    assert found[apart.pk] == Decimal(9)  # all three count
    assert expected[crowded.pk] == Decimal(9)  # the engine skips one of the four


def _answered_as_the_engine(rules, lead_id: int, now) -> Decimal:
    """The lead's contribution from the SQL pass: every rule counted there, the lead not
    declined, and the sum the engine's."""
    counted, rest = rules_split(rules, fast=True)
    found, declined = contributions(counted, low=lead_id, high=lead_id, now=now)
    assert rest == ()
    assert declined == set()
    assert found == _engine_score(rules, [lead_id], now)
    return found[lead_id]


def test_rules_that_read_the_same_events_count_and_cap_only_their_own():
    """Both page rules are counted in one pass over the page events: a cap's running count
    and its window hold only the events its own conditions match."""
    now = timezone.now().replace(microsecond=0)
    lead = lead_make()
    Event.objects.bulk_create([
        Event(message_id=f"p{i}", lead_id=lead.pk, type="page", name="",
              properties={"path": path}, timestamp=now - timedelta(hours=hours), received_at=now)
        for i, (path, hours) in enumerate([
            ("/docs", 2), ("/docs", 3), ("/pricing", 4), ("/docs", 5), ("/pricing", 30),
            ("/docs", 31), ("/pricing", 60),
        ])
    ])  # fmt: skip
    pricing = Condition("properties.path", "eq", "/pricing")
    rules = [
        # one pricing page a day: no two are within a day, though other pages are
        Rule(1, "pricing", "behavior", Decimal(10), event="page", conditions=(pricing,),
             max_times=1, window_days=Decimal(1)),
        # the first two pricing pages: the earlier other pages do not take their places
        Rule(2, "first", "behavior", Decimal(7), event="page", conditions=(pricing,),
             max_times=2),
        Rule(3, "visits", "behavior", Decimal(1), event="page", max_times=5),
    ]  # fmt: skip

    assert _answered_as_the_engine(rules, lead.pk, now) == Decimal(30 + 14 + 5)


def test_rules_that_read_different_fields_of_the_same_events_read_their_own():
    """Each field a key's conditions read is extracted once per event: a rule gets its own
    field's text, and two rules on one field share it."""
    now = timezone.now().replace(microsecond=0)
    lead = lead_make()
    Event.objects.bulk_create([
        Event(message_id=f"f{i}", lead_id=lead.pk, type="page", name="",
              properties=properties, context={"page": {"path": path}},
              timestamp=now - timedelta(hours=i + 1), received_at=now)
        for i, (properties, path) in enumerate([
            ({"path": "/pricing", "plan": "free"}, "/a"),
            ({"path": "/docs", "plan": "pro"}, "/b"),
            ({"path": "/docs", "plan": "pro"}, "/a"),
        ])
    ])  # fmt: skip
    rules = [
        Rule(1, "pricing", "behavior", Decimal(10), event="page",
             conditions=(Condition("properties.path", "eq", "/pricing"),)),
        Rule(2, "pro", "behavior", Decimal(3), event="page",
             conditions=(Condition("properties.plan", "eq", "pro"),)),
        Rule(3, "docs on a", "behavior", Decimal(1), event="page",
             conditions=(Condition("properties.path", "eq", "/docs"),
                         Condition("context.page.path", "eq", "/a"))),
    ]  # fmt: skip

    assert _answered_as_the_engine(rules, lead.pk, now) == Decimal(10 + 6 + 1)


def test_an_event_exactly_as_old_as_the_expiry_still_counts():
    """Expiry compares exact ages: an event `expire_after_days` old counts, one a
    microsecond older does not, and one from the future counts (its age is 0)."""
    now = timezone.now().replace(microsecond=0)
    lead = lead_make()
    span = timedelta(days=2, hours=12)
    Event.objects.bulk_create([
        Event(message_id=f"x{i}", lead_id=lead.pk, type="page", name="",
              timestamp=now - age, received_at=now)
        for i, age in enumerate([span, span + timedelta(microseconds=1), -timedelta(hours=1)])
    ])  # fmt: skip
    rules = [Rule(1, "x", "behavior", Decimal(3), event="page", expire_after_days=Decimal("2.5"))]

    assert _answered_as_the_engine(rules, lead.pk, now) == Decimal(6)


def test_percent_signs_in_names_and_values_are_values():
    """The pass writes its values into the statement, quoted by the driver: a % in an event
    name or a condition's value is text, never a placeholder."""
    now = timezone.now().replace(microsecond=0)
    lead = lead_make()
    Event.objects.bulk_create([
        Event(message_id=f"d{i}", lead_id=lead.pk, type="track", name="Coupon 50% Off",
              properties={"code": code}, timestamp=now - timedelta(days=i + 1), received_at=now)
        for i, code in enumerate(["100%s", "%(x)s", "plain"])
    ])  # fmt: skip
    rules = [
        Rule(1, "coupon", "behavior", Decimal(4), event="coupon 50% off",
             conditions=(Condition("properties.code", "contains", "%"),),
             half_life_days=Decimal(9)),
        Rule(2, "all", "behavior", Decimal(1), event="Coupon 50% Off", max_times=2),
    ]  # fmt: skip

    assert _answered_as_the_engine(rules, lead.pk, now) > Decimal(2)


def _downloads(lead_id: int | None, now, categories: list[str], prefix: str) -> list[Event]:
    return Event.objects.bulk_create([
        Event(message_id=f"{prefix}{i}", lead_id=lead_id, type="track",
              name="Document Downloaded", properties={"category": category},
              timestamp=now - timedelta(days=i + 1), received_at=now)
        for i, category in enumerate(categories)
    ])  # fmt: skip


PRICING = Rule(1, "pricing", "behavior", Decimal(5), event="document downloaded",
               conditions=(Condition("properties.category", "eq", "pricing"),))  # fmt: skip


def _category_key() -> str:
    """Where PRICING's field texts are kept (the key names the test database)."""
    field = simulate_sql.SqlCondition("properties", ("category",), (), ())
    return simulate_sql._texts_cache_key("document downloaded", field)


def test_a_value_stored_after_the_answers_were_made_is_added_to_them():
    """A field's texts are kept between simulations and topped up with the events stored
    since: a new value is answered, and its lead counted, without a read of every event."""
    now = timezone.now().replace(microsecond=0)
    first = lead_make()
    _downloads(first.pk, now, ["docs"], "a")
    (counted, _) = rules_split([PRICING], fast=True)
    assert counted[0].conditions[0].seen == ('"docs"',)

    later = lead_make()
    _downloads(later.pk, now, ["pricing", "pricing"], "b")

    assert _answered_as_the_engine([PRICING], later.pk, now) == Decimal(10)
    (counted, _) = rules_split([PRICING], fast=True)
    assert counted[0].conditions[0].seen == ('"docs"', '"pricing"')
    assert counted[0].conditions[0].holds == ('"pricing"',)


def test_a_value_the_kept_texts_miss_sends_its_lead_to_the_engine():
    """An orphan event given to a lead after the texts were read has an id below the mark:
    its value is not among them, so its lead is declined, never answered wrongly; the next
    full read (after VALUES_TTL) sees it."""
    now = timezone.now().replace(microsecond=0)
    lead = lead_make()
    (orphan,) = _downloads(None, now, ["pricing"], "o")
    _downloads(lead.pk, now, ["docs"], "a")
    rules_split([PRICING], fast=True)
    Event.objects.filter(pk=orphan.pk).update(lead_id=lead.pk)

    (counted, _) = rules_split([PRICING], fast=True)
    assert counted[0].conditions[0].seen == ('"docs"',)
    assert contributions(counted, low=lead.pk, high=lead.pk, now=now) == ({}, {lead.pk})

    # the texts kept (topped up since) read in full VALUES_TTL ago
    since, texts, read_at = orjson.loads(cache.get(_category_key()))
    cache.set(_category_key(), orjson.dumps([since, texts, read_at - simulate_sql.VALUES_TTL]))
    assert _answered_as_the_engine([PRICING], lead.pk, now) == Decimal(5)


def test_kept_texts_are_read_again_when_the_event_ids_restarted():
    """Texts kept with a mark above every event id (the table emptied, its ids restarted)
    are not topped up from that mark: every event is read again."""
    now = timezone.now().replace(microsecond=0)
    lead = lead_make()
    _downloads(lead.pk, now, ["pricing"], "a")
    rules_split([PRICING], fast=True)
    cache.set(_category_key(), orjson.dumps([10**15, ['"docs"'], time.time()]))

    assert _answered_as_the_engine([PRICING], lead.pk, now) == Decimal(5)


def test_an_inactivity_rule_after_an_event_equals_the_engine():
    now = timezone.now().replace(microsecond=0)
    silent, woke, recent, none, folded, edge = (lead_make() for _ in range(6))
    download = "Document Downloaded"
    _events_at(silent.pk, now, 24 * 20, 24 * 30, kind="track", name=download)
    _events_at(silent.pk, now, 24 * 25)  # a page view before the last download: no matter
    _events_at(woke.pk, now, 24 * 20, kind="track", name=download)
    _events_at(woke.pk, now, 24 * 10)  # a page view within the 14 days after it
    _events_at(recent.pk, now, 24 * 3, kind="track", name=download)  # not 14 days yet
    _events_at(none.pk, now, 24 * 3)
    _events_at(folded.pk, now, 24 * 20, kind="track", name=" Document Downloaded")
    _events_at(edge.pk, now, 24 * 20, kind="track", name=download)
    _events_at(edge.pk, now, 24 * 6)  # a page view at the 14th day's last moment: in time
    rule = Rule(1, "silence", "inactivity", Decimal(-10), after_event=download,
                watch_events=("page", "Email Opened"), inactive_days=Decimal(14))  # fmt: skip
    ids = [silent.pk, woke.pk, recent.pk, none.pk, folded.pk, edge.pk]

    counted, rest = rules_split([rule], fast=True)
    found, declined = contributions(counted, low=min(ids), high=max(ids), now=now)

    assert rest == ()
    assert declined == {folded.pk}  # only Python folds its name into the anchor's
    expected = _engine_score([rule], ids, now)
    assert found == {silent.pk: Decimal(-10)}
    assert {i: expected[i] for i in ids if i != folded.pk} == {
        silent.pk: Decimal(-10),
        woke.pk: 0,
        recent.pk: 0,
        none.pk: 0,
        edge.pk: 0,
    }
    assert expected[folded.pk] == Decimal(-10)


def test_a_faded_total_at_or_just_under_a_half_cent_goes_to_the_engine():
    now = timezone.now().replace(microsecond=0)
    half, under, lost, far = (lead_make() for _ in range(4))
    for lead, age in ((half, timedelta(days=30)), (under, timedelta(days=30, microseconds=1))):
        Event.objects.create(message_id=f"h{lead.pk}", lead_id=lead.pk, type="page",
                             timestamp=now - age, received_at=now)  # fmt: skip
    _events_at(lost.pk, now, 24 * 10, 24 * 45, kind="track", name="Unsubscribed")
    Event.objects.create(message_id="far", lead_id=far.pk, type="track", name="Unsubscribed",
                         timestamp=datetime(9999, 12, 20, tzinfo=UTC), received_at=now)  # fmt: skip
    visit = Rule(1, "v", "behavior", Decimal("0.01"), event="page", half_life_days=Decimal(30))
    gone = Rule(2, "u", "behavior", Decimal("-7.35"), event="Unsubscribed",
                half_life_days=Decimal(30))  # fmt: skip
    silence = Rule(3, "s", "inactivity", Decimal(-5), after_event="Unsubscribed",
                   watch_events=("page",), inactive_days=Decimal(30))  # fmt: skip
    ids = [half.pk, under.pk, lost.pk, far.pk]

    counted, _ = rules_split([visit, gone, silence], fast=True)
    found, declined = contributions(counted, low=min(ids), high=max(ids), now=now)

    # 0.01 × 0.5 is a half cent exactly; a microsecond older, a hair under one: the float
    # cannot tell which way the engine's exact rounding goes
    assert declined == {half.pk, under.pk, far.pk}  # far: a deadline past Python's last date
    expected = _engine_score([visit, gone, silence], [lost.pk], now)
    assert found == {lost.pk: expected[lost.pk]}
    assert found[lost.pk] < -7  # two faded unsubscribes, negative


def test_rules_of_other_shapes_leave_the_whole_draft_to_the_engine():
    silence = Rule(1, "s", "inactivity", Decimal(-5), inactive_days=Decimal(7))  # no anchor
    plain = Rule(2, "p", "behavior", Decimal(1), event="page")
    fit = Rule(3, "f", "fit", Decimal(5), conditions=(Condition("title", "eq", "CTO"),))

    assert rules_split([plain, silence], fast=True) == ((), (plain, silence))
    assert rules_split([plain], fast=False) == ((), (plain,))
    assert rules_split([plain], fast=True)[0][0].rule == plain
    # a fit rule reads no events: the engine scores it beside this pass
    counted, rest = rules_split([plain, fit], fast=True)
    assert [item.rule for item in counted] == [plain]
    assert rest == (fit,)
