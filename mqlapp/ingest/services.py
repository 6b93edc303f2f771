"""Store a request's messages in one transaction: identity first, then events, then the outbox."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Q

from ..models import Event, Identity, Lead, Source
from ..services import (
    identity_link,
    lead_apply,
    lead_fields_from_traits,
    lead_find,
    lead_get_or_create_by_email,
    leads_score_enqueue,
)
from .messages import Message, MessageInvalid, email_valid, message_parse

ACTIVITY_TYPES = ("track", "page", "screen")


@dataclass
class IngestResult:
    stored: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)


def messages_validate(
    raws: Sequence[Any],
    *,
    received_at: datetime,
    default_type: str | None = None,
    batch_sent_at: datetime | None = None,
) -> tuple[list[Message], list[dict[str, Any]]]:
    messages: list[Message] = []
    rejected: list[dict[str, Any]] = []
    for index, raw in enumerate(raws):
        try:
            messages.append(
                message_parse(
                    raw,
                    index=index,
                    received_at=received_at,
                    default_type=default_type,
                    batch_sent_at=batch_sent_at,
                )
            )
        except MessageInvalid as exc:
            rejected.append({"index": index, "error": str(exc)})
    return messages, rejected


@transaction.atomic
def events_ingest(messages: Sequence[Message], *, source: Source | None) -> int:
    """Resolve who each message is about, store it once (by messageId), queue the leads."""
    touched: set[int] = set()
    adopt: dict[tuple[str, str], int] = {}
    for message in messages:
        lead = _message_lead(message, source=source, touched=touched, adopt=adopt)
        message.lead_id = lead.pk if lead else None
    rows = [
        Event(
            message_id=m.message_id,
            source=source,
            lead_id=m.lead_id,
            anonymous_id=m.anonymous_id,
            user_id=m.user_id,
            type=m.type,
            name=m.name,
            properties=m.properties,
            context=m.context,
            traits=m.traits,
            timestamp=m.timestamp,
            sent_at=m.sent_at,
            received_at=m.received_at,
        )
        for m in messages
    ]
    Event.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
    # Events sent before their ids were identified (earlier requests, or earlier in this one).
    for (field_name, value), lead_id in adopt.items():
        if Event.objects.filter(lead__isnull=True, **{field_name: value}).update(lead_id=lead_id):
            touched.add(lead_id)
    _activity_update(messages)
    touched.update(m.lead_id for m in messages if m.lead_id)
    leads_score_enqueue(touched)
    return len(messages)


def _message_lead(
    message: Message, *, source: Source | None, touched: set[int], adopt: dict[tuple[str, str], int]
) -> Lead | None:
    if message.type == "identify":
        return _identify(message, source=source, touched=touched, adopt=adopt)
    if message.type == "alias":
        return _alias(message, touched=touched, adopt=adopt)
    context_traits = message.context.get("traits")
    email = ""
    if isinstance(context_traits, dict) and isinstance(context_traits.get("email"), str):
        candidate = context_traits["email"]
        email = candidate if email_valid(candidate) else ""
    lead = lead_find(user_id=message.user_id, anonymous_id=message.anonymous_id, email=email)
    if lead is None and email:
        lead, _ = lead_get_or_create_by_email(email, source=source)
    if lead is not None:
        _link(lead, message, adopt=adopt)
        if message.type == "group":
            _group_apply(lead, message)
    return lead


def _identify(
    message: Message, *, source: Source | None, touched: set[int], adopt: dict[tuple[str, str], int]
) -> Lead | None:
    columns, rest = lead_fields_from_traits(message.traits)
    email = columns.get("email", "")
    lead: Lead | None
    if email:
        lead, _ = lead_get_or_create_by_email(email, source=source)
    else:
        lead = lead_find(user_id=message.user_id, anonymous_id=message.anonymous_id)
    if lead is None:
        return None  # kept unattached; counts once an identify names an email
    changed = lead_apply(lead, columns=columns, traits=rest)
    if message.user_id and not lead.external_id and message.user_id.lower() != lead.email:
        lead.external_id = message.user_id
        changed = True
    if changed:
        lead.save()
    touched.add(lead.pk)
    _link(lead, message, adopt=adopt)
    return lead


def _link(lead: Lead, message: Message, *, adopt: dict[tuple[str, str], int]) -> None:
    """Link the message's ids to the lead; their earlier events are adopted after the insert."""
    if message.anonymous_id and identity_link(
        lead, kind=Identity.Kind.ANONYMOUS, value=message.anonymous_id
    ):
        adopt[("anonymous_id", message.anonymous_id)] = lead.pk
    if message.user_id and identity_link(lead, kind=Identity.Kind.USER, value=message.user_id):
        adopt[("user_id", message.user_id)] = lead.pk


def _alias(
    message: Message, *, touched: set[int], adopt: dict[tuple[str, str], int]
) -> Lead | None:
    """previousId → userId: the two identities become one lead."""
    survivor = lead_find(user_id=message.user_id)
    previous = lead_find(user_id=message.previous_id, anonymous_id=message.previous_id)
    if survivor is None and previous is None:
        return None
    if survivor is None:
        assert previous is not None  # noqa: S101 (narrowing: both None returned above)
        identity_link(previous, kind=Identity.Kind.USER, value=message.user_id)
        adopt[("user_id", message.user_id)] = previous.pk
        touched.add(previous.pk)
        return previous
    if previous is not None and previous.pk != survivor.pk:
        lead_merge(previous, into=survivor)
    for kind in (Identity.Kind.ANONYMOUS, Identity.Kind.USER):
        identity_link(survivor, kind=kind, value=message.previous_id)
    adopt[("anonymous_id", message.previous_id)] = survivor.pk
    adopt[("user_id", message.previous_id)] = survivor.pk
    touched.add(survivor.pk)
    return survivor


def lead_merge(duplicate: Lead, *, into: Lead) -> None:
    """Move everything of `duplicate` onto `into` and delete it; blank fields are filled."""
    Event.objects.filter(lead=duplicate).update(lead=into)
    Identity.objects.filter(lead=duplicate).update(lead=into)
    columns = {
        name: getattr(duplicate, name)
        for name in (
            "first_name",
            "last_name",
            "company",
            "department",
            "title",
            "phone",
            "employees",
            "country",
            "industry",
        )
        if getattr(into, name) in ("", None)
    }
    lead_apply(into, columns=columns, traits={**duplicate.traits, **into.traits})
    email = duplicate.email
    duplicate.delete()
    if not into.email and email:
        into.email = email
    into.traits = {**into.traits, "merged_from": [*into.traits.get("merged_from", []), email]}
    into.save()


def _group_apply(lead: Lead, message: Message) -> None:
    name = message.traits.get("name")
    changed = False
    if isinstance(name, str) and name and not lead.company:
        lead.company = name[:200]
        changed = True
    if message.group_id and lead.traits.get("group_id") != message.group_id:
        lead.traits = {**lead.traits, "group_id": message.group_id}
        changed = True
    if changed:
        lead.save(update_fields=["company", "traits", "updated_at"])


def _activity_update(messages: Sequence[Message]) -> None:
    latest: dict[int, datetime] = {}
    for m in messages:
        lead_id = m.lead_id
        if lead_id is None or m.type not in ACTIVITY_TYPES:
            continue
        if lead_id not in latest or m.timestamp > latest[lead_id]:
            latest[lead_id] = m.timestamp
    for lead_id, at in latest.items():
        Lead.objects.filter(pk=lead_id).filter(
            Q(last_activity_at__isnull=True) | Q(last_activity_at__lt=at)
        ).update(last_activity_at=at)
