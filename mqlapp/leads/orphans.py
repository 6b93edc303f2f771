"""Events kept before their ids named a lead (orphans): the one way they join their lead.

SPEC §3: "a call that names no known lead is kept and counts once its ids are identified".
Every path that makes ids name a lead calls `orphans_adopt`: ingestion (an identify, an
alias, a form, a CSV import: new anonymousId and userId links, and the email of every lead it
creates) and the lead API (a lead created with, or given, an email). A userId that is an email
names the lead with that email whatever its case, as it does when a message arrives
(ingest/identity.Resolver.find).
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Case, Max, Q, Value, When
from django.db.models.functions import Lower
from django.db.models.lookups import Exact, In

from .event_store import event_owners_hold
from .models import Event

ACTIVITY_TYPES = ("track", "page", "screen")
DATA_TYPES = ("identify", "group")


@dataclass(frozen=True, slots=True)
class OrphanData:
    """An identify or group call among the adopted events: its data now applies to the lead."""

    lead_id: int
    type: str
    user_id: str
    traits: dict[str, Any]
    timestamp: datetime
    message_id: str


@dataclass
class Adoption:
    """What an adoption did: leads that gained events, the data calls among them, and each
    such lead's newest activity (for `last_activity_at`)."""

    leads: set[int] = field(default_factory=set)
    data: list[OrphanData] = field(default_factory=list)
    latest: dict[int, datetime] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Targets:
    anonymous: dict[str, int]
    exact: dict[str, int]  # userIds that are no email: compared as they are
    emails: dict[str, int]  # lower-cased: userIds that are emails, and the leads' own emails

    def lead_of(self, anonymous_id: str, user_id: str) -> int | None:
        """The precedence of Resolver.find: the userId (as an id, then as an email), then the
        anonymousId."""
        if user_id:
            found = self.exact.get(user_id) or self.emails.get(user_id.lower())
            if found:
                return found
        return self.anonymous.get(anonymous_id) if anonymous_id else None

    def condition(self) -> Q:
        query = Q(pk__in=[])
        if self.exact:
            query |= Q(user_id__in=list(self.exact))
        if self.emails:
            query |= Q(In(Lower("user_id"), list(self.emails)))
        if self.anonymous:
            query |= Q(anonymous_id__in=list(self.anonymous))
        return query

    def target(self) -> Case:
        """The same precedence in SQL: the first matching WHEN wins."""
        whens = [When(user_id=v, then=Value(t)) for v, t in self.exact.items()]
        whens += [When(Exact(Lower("user_id"), v), then=Value(t)) for v, t in self.emails.items()]
        whens += [When(anonymous_id=v, then=Value(t)) for v, t in self.anonymous.items()]
        return Case(*whens)


def orphans_adopt(
    *,
    anonymous: Mapping[str, int] | None = None,
    users: Mapping[str, int] | None = None,
    emails: Mapping[str, int] | None = None,
) -> Adoption:
    """Give the orphan events of these ids to their leads (id → lead id).

    `anonymous`: anonymousIds; `users`: userIds (one that is an email matches any case);
    `emails`: leads' emails, matched against userIds whatever their case. Three queries at
    most: the data calls among the orphans, the update, the newest activity of the leads.
    """
    exact: dict[str, int] = {}
    lowered: dict[str, int] = {}
    for value, lead_id in (users or {}).items():
        if "@" in value:
            lowered.setdefault(value.lower(), lead_id)
        else:
            exact[value] = lead_id
    for value, lead_id in (emails or {}).items():
        if value:
            lowered.setdefault(value.lower(), lead_id)
    targets = _Targets(
        anonymous={k: v for k, v in (anonymous or {}).items() if k}, exact=exact, emails=lowered
    )
    out = Adoption()
    if not (targets.anonymous or targets.exact or targets.emails):
        return out
    orphans = Event.objects.filter(targets.condition(), lead__isnull=True)
    rows = (
        orphans.filter(type__in=DATA_TYPES)
        .order_by("timestamp", "message_id")
        .values_list("anonymous_id", "user_id", "type", "traits", "timestamp", "message_id")
    )
    for anonymous_id, user_id, kind, traits, timestamp, message_id in rows:
        owner = targets.lead_of(anonymous_id, user_id)
        if owner is not None:
            out.data.append(OrphanData(owner, kind, user_id, traits, timestamp, message_id))
    if not orphans.update(lead_id=targets.target()):
        return out
    out.leads = {*targets.anonymous.values(), *targets.exact.values(), *targets.emails.values()}
    event_owners_hold(out.leads, ())  # the leads adopting are still there (no constraint)
    activity = (
        Event.objects.filter(lead_id__in=sorted(out.leads), type__in=ACTIVITY_TYPES)
        .values("lead_id")
        .annotate(at=Max("timestamp"))
    )
    out.latest = {row["lead_id"]: row["at"] for row in activity}
    return out
