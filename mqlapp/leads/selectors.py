"""Reads of the core domain."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Count, Exists, Max, Min, OuterRef, Q, QuerySet

from .ingest.messages import SERVER_ID_PREFIX
from .models import Consent, Event, Identity, Lead, LeadMerge, Source


def lead_events(lead: Lead) -> QuerySet[Event]:
    return lead.events.order_by("-timestamp", "-id")


def events_vouched() -> Q:
    """Events that may fast-track their lead (docs/security.md): sent with a server key or by
    the app itself (forms, imports, email links: server-made ids no client may send), or
    from a browser whose anonymousId was linked to that lead by a form, a server key, or the
    browser key's identify that created the lead. A browser key's event that names a lead
    by userId or email, or from an id the key itself tied to a lead that already existed
    (anyone who copied the key can type an email), scores as usual but raises no hand."""
    own_browser = Identity.objects.filter(
        kind=Identity.Kind.ANONYMOUS,
        value=OuterRef("anonymous_id"),
        lead_id=OuterRef("lead_id"),
        claimed=False,
    )
    return (
        Q(source__isnull=True)
        | ~Q(source__kind=Source.Kind.BROWSER)
        | Q(message_id__startswith=SERVER_ID_PREFIX)
        | (~Q(anonymous_id="") & Q(Exists(own_browser)))
    )


def merges_list(*, lead_id: int | None = None) -> QuerySet[LeadMerge]:
    """Merges, newest first; with `lead_id`, those into that lead or of it."""
    merges = LeadMerge.objects.select_related("undone_by").order_by("-at", "-id")
    if lead_id is not None:
        merges = merges.filter(Q(into_id=lead_id) | Q(merged_lead_id=lead_id))
    return merges


def event_names_seen(*, since: datetime, sample: int = 20000, limit: int = 200) -> list[str]:
    """Track names seen since `since`, the most frequent first (for the rules editor's
    suggestions). Bounded: the time filter keeps PostgreSQL to the latest monthly
    partitions, and at most `sample` events are read, whatever the table holds."""
    table = connection.ops.quote_name(Event._meta.db_table)
    # Only the quoted table name is joined in; every value is a bound parameter.
    sql = (
        f"SELECT name FROM (SELECT name FROM {table} WHERE type = %s AND timestamp >= %s "  # noqa: S608
        "AND name <> '' LIMIT %s) seen GROUP BY name ORDER BY COUNT(*) DESC, name LIMIT %s"
    )
    with connection.cursor() as cursor:
        moment = connection.ops.adapt_datetimefield_value(since)
        cursor.execute(sql, ["track", moment, sample, limit])
        return [row[0] for row in cursor.fetchall()]


def lead_consent_latest(lead_id: int) -> Consent | None:
    """The lead's latest consent (which form wording, version, when), or None."""
    return (
        Consent.objects.filter(lead_id=lead_id)
        .select_related("form")
        .order_by("-given_at", "-id")
        .first()
    )


def lead_identified_at(lead_id: int) -> datetime | None:
    """When the lead was first identified: its first event that named the person (a userId,
    an identify), or None when no event did (an imported lead)."""
    found: datetime | None = (
        Event.objects.filter(lead_id=lead_id)
        .filter(~Q(user_id="") | Q(type="identify"))
        .aggregate(at=Min("timestamp"))["at"]
    )
    return found


def visitors_list() -> QuerySet[Event, dict[str, Any]]:
    """Visitors not identified yet: each anonymousId whose events belong to no lead, with its
    event count, page views, first and last seen; the most recently seen first."""
    return (
        Event.objects.filter(lead__isnull=True)
        .exclude(anonymous_id="")
        .values("anonymous_id")
        .annotate(
            events=Count("id"),
            pages=Count("id", filter=Q(type="page")),
            first_seen=Min("timestamp"),
            last_seen=Max("timestamp"),
        )
        .order_by("-last_seen", "anonymous_id")
    )


def visitors_events(
    anonymous_ids: Sequence[str], *, per_visitor: int = 200
) -> dict[str, list[Any]]:
    """The latest events (newest first, at most `per_visitor` each) of these not-identified
    visitors (one indexed query per visitor: a page shows a few dozen)."""
    found: dict[str, list[Any]] = {}
    for anonymous_id in anonymous_ids:
        rows = Event.objects.filter(lead__isnull=True, anonymous_id=anonymous_id).order_by(
            "-timestamp", "-id"
        )
        found[anonymous_id] = list(rows[:per_visitor])
    return found
