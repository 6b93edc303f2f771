"""Who gets the next MQL: weighted round robin over available reps, caps and territories."""

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from typing import Any

from django.db import transaction
from django.db.models import Count, Q

from mqlapp.leads.errors import InvalidInput, NotFound
from mqlapp.leads.models import Lead, User
from mqlapp.leads.parsing import INT_MAX
from mqlapp.leads.roles import SALES
from mqlapp.leads.services import task_kick

from .lifecycle import Stage
from .models import Assignment, AssignmentCursor, LeadLifecycle, RepProfile

WEIGHT_MAX = 100  # a rep gets at most 100 MQLs for another's one
TERRITORY_KEYS = {"countries", "employees_min", "employees_max"}


def sales_reps() -> list[User]:
    """Active users in the sales role, by id."""
    return list(
        User.objects.filter(groups__name=SALES, is_active=True)
        .select_related("rep")
        .order_by("pk")
        .distinct()
    )


def rep_profile(user: User) -> RepProfile:
    try:
        return user.rep
    except RepProfile.DoesNotExist:
        return RepProfile(user=user)


# --- the decision (pure: plain facts in, a choice and the next state out) ---------------------


@dataclass(frozen=True, slots=True)
class Territory:
    """One territory rule: the countries it covers (any when empty) and an employee band."""

    countries: tuple[str, ...] = ()
    employees_min: int | None = None
    employees_max: int | None = None

    @classmethod
    def of(cls, rule: Mapping[str, Any]) -> "Territory":
        """From a stored rule: {"countries": [...], "employees_min", "employees_max"}."""
        return cls(
            countries=tuple(str(c) for c in rule.get("countries") or ()),
            employees_min=rule.get("employees_min"),
            employees_max=rule.get("employees_max"),
        )


@dataclass(frozen=True, slots=True)
class RepFacts:
    """What assignment needs to know about one sales rep."""

    id: int
    weight: int = 1
    max_open_mqls: int | None = None  # None: no cap
    territories: tuple[Territory, ...] = ()  # empty: takes the leads nobody's territory covers
    available: bool = True


@dataclass(frozen=True, slots=True)
class Rotation:
    """Weighted fair queueing state: the virtual clock V and each rep's virtual finish time."""

    clock: Fraction = Fraction(0)
    finish: Mapping[int, Fraction] = field(default_factory=dict)

    @classmethod
    def from_json(cls, state: Mapping[str, Any] | None) -> "Rotation":
        """From the cursor's state: {"V": "<fraction>", "v": {"<user id>": "<fraction>"}}."""
        state = state or {}
        return cls(
            clock=Fraction(state.get("V", "0")),
            finish={int(k): Fraction(v) for k, v in (state.get("v") or {}).items()},
        )

    def to_json(self) -> dict[str, Any]:
        return {"V": str(self.clock), "v": {str(k): str(v) for k, v in self.finish.items()}}


def territory_matches(rule: Territory, *, country: str | None, employees: int | None) -> bool:
    """One territory rule: the lead's country is listed (if any are) and its size is in band."""
    countries = [c.strip().lower() for c in rule.countries]
    if countries and (country or "").strip().lower() not in countries:
        return False
    low, high = rule.employees_min, rule.employees_max
    if low is None and high is None:
        return True
    if employees is None:
        return False
    return (low is None or employees >= low) and (high is None or employees <= high)


def candidates_for(
    reps: Sequence[RepFacts], *, country: str | None, employees: int | None
) -> list[RepFacts]:
    """Reps whose territory covers the lead; if none does, the reps without territories."""
    matched = [
        r
        for r in reps
        if any(territory_matches(t, country=country, employees=employees) for t in r.territories)
    ]
    return matched or [r for r in reps if not r.territories]


def rep_choose(
    reps: Sequence[RepFacts],
    *,
    lead_country: str | None,
    lead_employees: int | None,
    state: Rotation,
    open_counts: Mapping[int, int],
    exclude: Collection[int] = (),
) -> tuple[int | None, Rotation]:
    """The rep who gets the lead (None: the pool) and the rotation after the choice.

    Available reps not in `exclude`, narrowed by territory, then those under their cap of
    open MQLs (`open_counts`). Weighted fair queueing: each rep has a virtual finish time
    v; the rep with the smallest v + 1/weight is next (ties: smaller v, then id); a rep who
    was away or is new starts from the current virtual time V, so coming back does not
    flood them. With equal weights this is plain round robin in id order.
    """
    eligible = [r for r in reps if r.available and r.id not in exclude]
    eligible = candidates_for(eligible, country=lead_country, employees=lead_employees)
    eligible = [
        r for r in eligible if r.max_open_mqls is None or open_counts.get(r.id, 0) < r.max_open_mqls
    ]
    if not eligible:
        return None, state
    clock = state.clock
    finish = dict(state.finish)
    for rep in eligible:
        finish[rep.id] = max(finish.get(rep.id, clock), clock)

    def rank(rep: RepFacts) -> tuple[Fraction, Fraction, int]:
        start = finish[rep.id]
        return (start + Fraction(1, max(rep.weight, 1)), start, rep.id)

    chosen = min(eligible, key=rank)
    finish[chosen.id] = rank(chosen)[0]
    clock = max(clock, min(finish[r.id] for r in eligible))
    return chosen.id, Rotation(clock=clock, finish=finish)


# --- loading the facts, saving the choice ----------------------------------------------------


def rep_facts(user: User) -> RepFacts:
    profile = rep_profile(user)
    return RepFacts(
        id=user.pk,
        weight=profile.weight,
        max_open_mqls=profile.max_open_mqls,
        territories=tuple(Territory.of(t) for t in profile.territories),
        available=user.available,
    )


def _open_mqls(user_ids: Sequence[int]) -> dict[int, int]:
    rows = (
        LeadLifecycle.objects.filter(owner_id__in=user_ids, stage=Stage.MQL)
        .values("owner_id")
        .annotate(n=Count("pk"))
    )
    return {row["owner_id"]: row["n"] for row in rows}


def assignee_next(lead: Lead, *, exclude: Sequence[int] = ()) -> User | None:
    """The next rep for this lead, or None (pool). Call inside the transaction that assigns."""
    return assignees_next([lead], exclude=exclude)[0]


def assignees_next(leads: Sequence[Lead], *, exclude: Sequence[int] = ()) -> list[User | None]:
    """The rep for each lead in turn (None: pool), as if they were assigned one by one in this
    order: the rotation moves on after each choice, and each choice counts against that rep's
    cap for the leads after it. Call inside the transaction that assigns.

    The cursor row is locked, so concurrent qualifications take turns and never pick the
    same "next rep" by race; each choice itself is `rep_choose`. A fixed number of queries
    however many leads: the reps, their open MQLs and the cursor are read once.
    """
    if not leads:
        return []
    AssignmentCursor.objects.get_or_create(pk=1)
    cursor = AssignmentCursor.objects.select_for_update().get(pk=1)
    users = {user.pk: user for user in sales_reps()}
    reps = [rep_facts(user) for user in users.values()]
    capped = [r.id for r in reps if r.max_open_mqls is not None and r.available]
    open_counts = _open_mqls(capped) if capped else {}
    rotation = Rotation.from_json(cursor.state)
    chosen: list[User | None] = []
    last: int | None = None
    for lead in leads:
        rep_id, rotation = rep_choose(
            reps,
            lead_country=lead.country,
            lead_employees=lead.employees,
            state=rotation,
            open_counts=open_counts,
            exclude=exclude,
        )
        if rep_id is not None:
            open_counts[rep_id] = open_counts.get(rep_id, 0) + 1  # one more open MQL
            last = rep_id
        chosen.append(users[rep_id] if rep_id is not None else None)
    if last is not None:
        cursor.state = rotation.to_json()
        cursor.last_user = users[last]
        cursor.save(update_fields=["state", "last_user"])
    return chosen


def assignment_record(
    life: LeadLifecycle,
    *,
    user: User,
    why: str,
    now: datetime,
    by: User | None = None,
    notify: bool = True,
) -> Assignment:
    """Set the owner and keep the decision; the rep's email goes out after commit."""
    LeadLifecycle.objects.filter(pk=life.pk).update(owner=user)
    life.owner = user
    return assignments_record([life], why=why, now=now, by=by, notify=notify)[0]


def assignments_record(
    lives: Sequence[LeadLifecycle],
    *,
    why: str,
    now: datetime,
    by: User | None = None,
    notify: bool = True,
) -> list[Assignment]:
    """Keep the decisions for lifecycle rows whose owner the caller has set (one insert); each
    rep's email goes out after commit, one per assignment."""
    rows = Assignment.objects.bulk_create(
        [
            Assignment(
                lead_id=life.lead_id,
                cycle=life.cycle,
                user=life.owner,
                at=now,
                why=why,
                by=by,
                notify=notify,
            )
            for life in lives
        ]
    )
    if notify and rows:
        ids = [row.pk for row in rows]
        transaction.on_commit(lambda: _notify_all(ids))
    return rows


def _notify_all(assignment_ids: list[int]) -> None:
    for pk in assignment_ids:
        task_kick("handoff.tasks.assignment_notify", pk)


# --- rep settings (admin) --------------------------------------------------------------------


def _territories(value: Any) -> list[dict[str, Any]]:
    bad = InvalidInput(
        'territories must be a list of {"countries": [...], "employees_min", "employees_max"}',
        fields={"territories": ["invalid"]},
    )
    if not isinstance(value, list):
        raise bad
    rules = []
    for item in value:
        if not isinstance(item, dict) or not set(item) <= TERRITORY_KEYS or not item:
            raise bad
        countries = item.get("countries") or []
        if not isinstance(countries, list) or not all(isinstance(c, str) and c for c in countries):
            raise bad
        for key in ("employees_min", "employees_max"):
            bound = item.get(key)
            if bound is not None and (isinstance(bound, bool) or not isinstance(bound, int)):
                raise bad
        rules.append(
            {
                "countries": countries,
                "employees_min": item.get("employees_min"),
                "employees_max": item.get("employees_max"),
            }
        )
    return rules


@transaction.atomic
def rep_update(user_id: int, *, data: Mapping[str, Any]) -> RepProfile:
    """Change a rep's weight, cap, territories (and `available`, which lives on the user)."""
    user = User.objects.filter(pk=user_id, groups__name=SALES).first()
    if user is None:
        raise NotFound("No sales rep with that id.")
    profile, _ = RepProfile.objects.select_for_update().get_or_create(user=user)
    if "weight" in data:
        weight = data["weight"]
        if isinstance(weight, bool) or not isinstance(weight, int) or not 1 <= weight <= WEIGHT_MAX:
            raise InvalidInput("weight must be a whole number 1–100", fields={"weight": ["1-100"]})
        profile.weight = weight
    if "max_open_mqls" in data:
        cap = data["max_open_mqls"]
        if cap is not None and (
            isinstance(cap, bool) or not isinstance(cap, int) or not 0 <= cap <= INT_MAX
        ):
            raise InvalidInput(
                "max_open_mqls must be a whole number or null",
                fields={"max_open_mqls": ["not a whole number"]},
            )
        profile.max_open_mqls = cap
    if "territories" in data:
        profile.territories = _territories(data["territories"])
    if "available" in data:
        if not isinstance(data["available"], bool):
            raise InvalidInput("available must be true or false", fields={"available": ["bool"]})
        User.objects.filter(pk=user.pk).update(available=data["available"])
    profile.save()
    return profile


def reps_overview() -> list[dict[str, Any]]:
    reps = sales_reps()
    counts = dict(
        User.objects.filter(pk__in=[r.pk for r in reps])
        .annotate(n=Count("owned_leads", filter=Q(owned_leads__stage=Stage.MQL)))
        .values_list("pk", "n")
    )
    rows = []
    for rep in reps:
        profile = rep_profile(rep)
        rows.append(
            {
                "id": rep.pk,
                "username": rep.username,
                "email": rep.email,
                "available": rep.available,
                "weight": profile.weight,
                "max_open_mqls": profile.max_open_mqls,
                "territories": profile.territories,
                "open_mqls": counts.get(rep.pk, 0),
            }
        )
    return rows
