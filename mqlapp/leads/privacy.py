"""Privacy of the core's rows (SPEC §6): what is personal, the person's own data, erasure.

The console composes the full export; each app above erases its own rows through the
`lead_erased` hook (handoff: notes and webhook bodies), so an erasure reaches every table.
"""

from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from . import hooks
from .errors import NotFound
from .ingest.inbox import inbox_sweep
from .models import Consent, Erasure, Event, Identity, Lead, LeadMerge, User
from .scrub import (
    PersonalValues,
    campaign_scrub,
    context_scrub,
    keys_count,
    properties_scrub,
)

# Lead columns that name or reach the person; blanked on erasure. Stage, score, source, owner,
# country, industry, employees and timestamps stay so funnel and reports still count the lead.
LEAD_PERSONAL = (
    "email",
    "external_id",
    "first_name",
    "last_name",
    "company",
    "department",
    "title",
    "phone",
)
# The personal fields whose values, found inside an event's data, name the person (job title
# and department are shared by too many people to say who someone is).
LEAD_NAMING = ("email", "external_id", "first_name", "last_name", "company", "phone")


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _events(lead: Lead, anon_ids: list[str]) -> QuerySet[Event]:
    """The lead's events, and unattached events sent under one of its anonymousIds."""
    query = Q(lead=lead)
    if anon_ids:
        query |= Q(lead__isnull=True, anonymous_id__in=anon_ids)
    return Event.objects.filter(query).order_by("timestamp", "id")


def lead_own_data(lead: Lead) -> dict[str, Any]:
    """The core's part of a personal-data export: profile, ids, events, consents, merges."""
    identities = list(Identity.objects.filter(lead=lead).order_by("id"))
    anon_ids = [i.value for i in identities if i.kind == Identity.Kind.ANONYMOUS]
    erasure = Erasure.objects.select_related("by").filter(lead=lead).first()
    return {
        "lead": {
            "id": lead.pk,
            **{name: getattr(lead, name) for name in LEAD_PERSONAL},
            "employees": lead.employees,
            "country": lead.country,
            "industry": lead.industry,
            "traits": lead.traits,
            "source": lead.source.name if lead.source else None,
            "last_activity_at": _iso(lead.last_activity_at),
            "created_at": _iso(lead.created_at),
            "updated_at": _iso(lead.updated_at),
        },
        "identities": [
            {"kind": i.kind, "value": i.value, "created_at": _iso(i.created_at)} for i in identities
        ],
        "events": [
            {
                "message_id": e.message_id,
                "type": e.type,
                "name": e.name,
                "anonymous_id": e.anonymous_id,
                "user_id": e.user_id,
                "previous_id": e.previous_id,
                "properties": e.properties,
                "context": e.context,
                "traits": e.traits,
                "campaign": e.campaign,
                "timestamp": _iso(e.timestamp),
                "sent_at": _iso(e.sent_at),
                "received_at": _iso(e.received_at),
            }
            for e in _events(lead, anon_ids)
        ],
        "consents": [
            {
                "form": c.form.name if c.form else None,
                "text": c.text,
                "version": c.version,
                "given_at": _iso(c.given_at),
                "ip": c.ip,
                "user_agent": c.user_agent,
            }
            for c in Consent.objects.filter(lead=lead).select_related("form").order_by("id")
        ],
        "merges": [
            {
                "merged_lead_id": m.merged_lead_id,
                "merged_email": m.merged_email,
                "merged_data": m.merged_data,
                "reason": m.reason,
                "events_moved": m.events_moved,
                "at": _iso(m.at),
            }
            for m in LeadMerge.objects.filter(into=lead).order_by("at", "id")
        ],
        "erased": (
            {"at": _iso(erasure.at), "by": erasure.by.username if erasure.by else None}
            if erasure
            else None
        ),
    }


# How long an erasure waits for large batches accepted before it to be stored (so their
# messages about the person are erased with the rest, instead of making a new lead after).
ERASE_INBOX_SECONDS = 30.0


def lead_erase(lead_id: int, *, by: User | None) -> tuple[Erasure, bool]:
    """Erase the person behind lead `lead_id`; returns the record and whether it is new.

    Large batches accepted before the erasure and still in the inbox are stored first (for
    at most ERASE_INBOX_SECONDS), so what they say of the person is erased too.
    Erasing again returns the first record; it scrubs again anything that reached the lead
    since (a message resolved just before the erasure committed), which is usually nothing."""
    inbox_sweep(seconds=ERASE_INBOX_SECONDS)
    return _lead_erase(lead_id, by=by)


@transaction.atomic
def _lead_erase(lead_id: int, *, by: User | None) -> tuple[Erasure, bool]:
    lead = Lead.objects.select_for_update().filter(pk=lead_id).first()
    if lead is None:
        raise NotFound("No such lead.")
    counts = _scrub(lead)
    counts.update(hooks.lead_erased(lead.pk))
    done = Erasure.objects.filter(lead=lead).first()
    if done is not None:
        return done, False
    return Erasure.objects.create(lead=lead, at=timezone.now(), by=by, counts=counts), True


def person_values(lead: Lead, identities: list[Identity]) -> PersonalValues:
    """What names the person (their profile's personal fields, their ids, emails in their
    traits): an event value holding one of these is erased (`mqlapp.leads.scrub`)."""
    traits = lead.traits if isinstance(lead.traits, dict) else {}
    return PersonalValues.of(
        [
            *(getattr(lead, name) for name in LEAD_NAMING),
            *(i.value for i in identities),
            *(v for k, v in traits.items() if isinstance(v, str) and "email" in k.lower()),
        ]
    )


def _scrub(lead: Lead) -> dict[str, int]:
    counts: dict[str, int] = {}

    identities = Identity.objects.filter(lead=lead)
    known = list(identities)
    anon_ids = [i.value for i in known if i.kind == Identity.Kind.ANONYMOUS]
    person = person_values(lead, known)
    counts["identities_deleted"], _ = identities.delete()

    events = list(_events(lead, anon_ids))
    keys = 0
    for e in events:
        e.anonymous_id = e.user_id = e.previous_id = ""
        e.traits = {}
        e.context = context_scrub(e.context, person)
        scrubbed = properties_scrub(e.properties, person)
        keys += keys_count(e.properties) - keys_count(scrubbed)
        e.properties = scrubbed
        e.campaign = campaign_scrub(e.campaign, person)
    Event.objects.bulk_update(
        events,
        ["anonymous_id", "user_id", "previous_id", "traits", "context", "properties", "campaign"],
        batch_size=500,
    )
    counts["events_scrubbed"] = len(events)
    counts["event_property_keys_removed"] = keys

    counts["consents_scrubbed"] = Consent.objects.filter(lead=lead).update(ip=None, user_agent="")
    counts["merges_scrubbed"] = LeadMerge.objects.filter(
        Q(into=lead) | Q(merged_lead_id=lead.pk)
    ).update(merged_email="", merged_data={})
    for name in LEAD_PERSONAL:
        setattr(lead, name, "")
    lead.traits = {}
    lead.save(update_fields=[*LEAD_PERSONAL, "traits", "updated_at"])
    return counts
