"""Batch identity resolution: who each message of a request is about, in a few queries."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models import BooleanField, Case, Q, Value, When

from .. import hooks
from ..models import Event, Identity, Lead, Source
from ..orphans import Adoption, orphans_adopt
from ..services import Stamp, message_lead_data, stamp_of
from ..sqlparams import TEXT_ARRAY, text_array
from .merge import lead_merge, merge_undone
from .messages import Message, context_email, email_normalise

ANON, USER = Identity.Kind.ANONYMOUS.value, Identity.Kind.USER.value
MAX_ALIAS_ROUNDS = 5
BROWSER_MERGE_REFUSED = (
    "a browser write key cannot merge two known leads: send this alias with a server key"
)


@dataclass(slots=True)
class LeadChange:
    """Data for one lead from one message; per field, the latest stamp wins (lead_apply)."""

    lead_id: int
    columns: dict[str, Any]
    traits: dict[str, Any]
    stamp: Stamp
    external_id: str = ""
    # A browser write key's data (docs/security.md): fills blank fields, never overwrites.
    fill_only: bool = False


def message_change(lead_id: int, m: Message, *, fill_only: bool = False) -> LeadChange:
    """What an identify or a group call says about its lead, stamped with its time and id."""
    columns, traits = message_lead_data(m.type, m.traits, group_id=m.group_id)
    external_id = m.user_id if m.type == "identify" else ""
    stamp = stamp_of(m.timestamp, m.message_id)
    return LeadChange(lead_id, columns, traits, stamp, external_id, fill_only)


@dataclass
class Resolution:
    """What the pass decided: links to write, leads to change, orphan events to adopt."""

    new_links: dict[tuple[str, str], int] = field(default_factory=dict)
    moved_links: set[tuple[str, str]] = field(default_factory=set)
    changes: list[LeadChange] = field(default_factory=list)
    touched: set[int] = field(default_factory=set)
    created_emails: set[str] = field(default_factory=set)
    refused: dict[int, str] = field(default_factory=dict)  # message index → why (not stored)


class Resolver:
    """Load every id a batch names at once, then decide message by message in memory.

    Leads for new emails are inserted up front (INSERT … ON CONFLICT DO NOTHING, then read
    back), so two requests naming the same new email at once both end on the one lead.
    """

    def __init__(self, *, source: Source | None, browser_key: bool = False) -> None:
        self.source = source
        # A browser key's limits (docs/security.md): its identify and group calls fill a
        # lead's blanks only, and its alias never merges two known leads.
        self.browser_key = browser_key
        self.ident: dict[tuple[str, str], int] = {}
        self.stored: set[tuple[str, str]] = set()  # links that exist in the database
        self.by_email: dict[str, int] = {}
        self.by_external: dict[str, int] = {}
        self.redirect: dict[int, int] = {}
        self.pending_alias: list[tuple[str, str, str]] = []  # previousId, userId, messageId
        self.out = Resolution()

    # --- loading ---------------------------------------------------------------------------

    def prefetch(self, messages: Sequence[Message]) -> None:
        anon_ids: set[str] = set()
        user_ids: set[str] = set()
        emails: set[str] = set()
        for m in messages:
            if m.anonymous_id:
                anon_ids.add(m.anonymous_id)
            if m.user_id:
                user_ids.add(m.user_id)
            if m.previous_id:
                anon_ids.add(m.previous_id)
                user_ids.add(m.previous_id)
            email = _message_email(m)
            if email:
                emails.add(email)
        self._load(anon_ids=anon_ids, user_ids=user_ids, emails=emails)
        self._create(emails - self.by_email.keys())

    def _load(self, *, anon_ids: set[str], user_ids: set[str], emails: Iterable[str]) -> None:
        if anon_ids or user_ids:
            for kind, value, lead_id in _identities(anon_ids, user_ids):
                self.ident[(kind, value)] = lead_id
                self.stored.add((kind, value))
        # A userId already linked is answered by its link (find() looks there first): only
        # the others are looked up as an external id or an email.
        user_ids = {u for u in user_ids if (USER, u) not in self.ident}
        by_email = set(emails) | {email_normalise(u) for u in user_ids if "@" in u}
        if by_email or user_ids:
            for pk, email, external_id in _leads_named(by_email, user_ids):
                if email:
                    self.by_email.setdefault(email, pk)
                if external_id:
                    self.by_external.setdefault(external_id, pk)

    def _create(self, emails: set[str]) -> None:
        if not emails:
            return
        ordered = sorted(emails)  # one insert order for everyone: no deadlocks between requests
        Lead.objects.bulk_create(
            [Lead(email=e, source=self.source) for e in ordered], ignore_conflicts=True
        )
        for pk, email in Lead.objects.filter(email__in=ordered).values_list("pk", "email"):
            self.by_email[email] = pk
        # Idempotent in every app: a lead another request created meanwhile is named again.
        hooks.leads_created(self.by_email[e] for e in ordered)
        self.out.created_emails.update(emails)

    # --- the pass ----------------------------------------------------------------------------

    def live(self, lead_id: int | None) -> int | None:
        while lead_id is not None and lead_id in self.redirect:
            lead_id = self.redirect[lead_id]
        return lead_id

    def find(self, *, user_id: str = "", anonymous_id: str = "", email: str = "") -> int | None:
        """The lead these ids name: email, then userId (link, external id, email), then anon."""
        if email and email in self.by_email:
            return self.live(self.by_email[email])
        if user_id:
            found = (
                self.ident.get((USER, user_id))
                or self.by_external.get(user_id)
                or self.by_email.get(email_normalise(user_id))
            )
            if found:
                return self.live(found)
        if anonymous_id and (ANON, anonymous_id) in self.ident:
            return self.live(self.ident[(ANON, anonymous_id)])
        return None

    def resolve(self, messages: Sequence[Message]) -> None:
        for m in messages:
            if m.type == "identify":
                m.lead_id = self._identify(m)
            elif m.type == "alias":
                m.lead_id = self._alias(m)
            else:
                m.lead_id = self.find(
                    user_id=m.user_id, anonymous_id=m.anonymous_id, email=context_email(m)
                )
                if m.lead_id is not None:
                    self._link_message(m.lead_id, m)
                    if m.type == "group":
                        self._group(m.lead_id, m)
        self._resolve_aliases()
        for m in messages:
            if m.lead_id is None and m.type != "alias":
                # ids identified later in this batch: the message is theirs from the start
                m.lead_id = self.find(user_id=m.user_id, anonymous_id=m.anonymous_id)
                if m.lead_id is not None and m.type in ("identify", "group"):
                    self.out.changes.append(message_change(m.lead_id, m))
            m.lead_id = self.live(m.lead_id)
        self.out.touched = {t for t in (self.live(i) for i in self.out.touched) if t}

    def _identify(self, m: Message) -> int | None:
        email = _message_email(m)
        lead_id = self.find(user_id=m.user_id, anonymous_id=m.anonymous_id, email=email)
        if lead_id is None:
            return None  # kept unattached; its traits apply once its ids are identified
        self.out.changes.append(message_change(lead_id, m, fill_only=self.browser_key))
        self.out.touched.add(lead_id)
        self._link_message(lead_id, m)
        return lead_id

    def _group(self, lead_id: int, m: Message) -> None:
        """The company the person belongs to: name, industry, employees, and the group's id."""
        self.out.changes.append(message_change(lead_id, m, fill_only=self.browser_key))
        self.out.touched.add(lead_id)

    def _alias(self, m: Message) -> int | None:
        """previousId → userId: one person; two known leads are merged into one."""
        if self.browser_key and self._merges_two(m.previous_id, m.user_id):
            self.out.refused[m.index] = BROWSER_MERGE_REFUSED
            m.persist = False
            return None
        if self._merges_two(m.previous_id, m.user_id) and merge_undone(m.message_id):
            return None  # an admin undid this alias's merge: a retry of it does not redo it
        target = self._join(m.previous_id, m.user_id, message_id=m.message_id)
        if target is not None:
            self.link(target, ANON, m.anonymous_id)
        return target

    def _join(self, previous_id: str, user_id: str, *, message_id: str) -> int | None:
        survivor = self.find(user_id=user_id)
        previous = self.find(user_id=previous_id, anonymous_id=previous_id)
        if survivor is None and previous is None:
            self.pending_alias.append((previous_id, user_id, message_id))
            return None
        if survivor is None or previous is None or survivor == previous:
            target = survivor or previous
        else:
            target = self._merge(previous, survivor, message_id=message_id)
        assert target is not None  # noqa: S101 (narrowing: both None handled above)
        self.link(target, USER, user_id)
        self.link(target, ANON, previous_id)
        self.link(target, USER, previous_id)
        self.out.touched.add(target)
        return target

    def _merges_two(self, previous_id: str, user_id: str) -> bool:
        """Whether joining these ids would merge two different known leads."""
        survivor = self.find(user_id=user_id)
        previous = self.find(user_id=previous_id, anonymous_id=previous_id)
        return survivor is not None and previous is not None and survivor != previous

    def _merge(self, a: int, b: int, *, message_id: str) -> int:
        survivor, duplicate = lead_merge(a, b, reason="alias", message_id=message_id)
        self.redirect[duplicate] = survivor
        self.out.touched.discard(duplicate)
        return survivor

    def _resolve_aliases(self) -> None:
        """Alias edges whose ids were unknown: this batch's, and stored ones these links reach."""
        for _ in range(MAX_ALIAS_ROUNDS):
            # (previousId, userId, messageId, may it merge two known leads)
            edges = [(*edge, not self.browser_key) for edge in self.pending_alias]
            linked = {value for (_, value) in self.out.new_links}
            if linked:
                stored = Event.objects.filter(type="alias", lead__isnull=True).filter(
                    Q(user_id__in=linked) | Q(previous_id__in=linked)
                )
                edges += [
                    (previous_id, user_id, message_id, kind != Source.Kind.BROWSER)
                    for previous_id, user_id, message_id, kind in stored.values_list(
                        "previous_id", "user_id", "message_id", "source__kind"
                    )
                ]
            state = (len(self.out.new_links), len(self.redirect))
            remaining = []
            for previous_id, user_id, message_id, may_merge in edges:
                if not may_merge and self._merges_two(previous_id, user_id):
                    continue  # a browser key's alias, kept, never merges two known leads
                known = self.find(user_id=user_id) or self.find(
                    user_id=previous_id, anonymous_id=previous_id
                )
                if known is not None:
                    self._join(previous_id, user_id, message_id=message_id)
                elif (previous_id, user_id, message_id) in self.pending_alias:
                    remaining.append((previous_id, user_id, message_id))
            self.pending_alias = remaining
            if state == (len(self.out.new_links), len(self.redirect)):
                return

    def _link_message(self, lead_id: int, m: Message) -> None:
        self.link(lead_id, ANON, m.anonymous_id)
        self.link(lead_id, USER, m.user_id)

    def link(self, lead_id: int, kind: str, value: str) -> None:
        """`value` names `lead_id` from now on; its earlier orphan events will be adopted."""
        if not value:
            return
        key = (kind, value)
        current = self.ident.get(key)
        if current is not None and self.live(current) == lead_id:
            return
        if self.browser_key and kind == USER and self.find(user_id=value) not in (None, lead_id):
            return  # a browser key never takes a user id (or email) from the lead it names
        if key in self.stored:
            self.out.moved_links.add(key)
        self.ident[key] = lead_id
        self.out.new_links[key] = lead_id
        self.out.touched.add(lead_id)


def _message_email(m: Message) -> str:
    """The email that makes a message create (or name) a lead: identify traits, context traits."""
    if m.type == "identify":
        value = m.traits.get("email")
        if isinstance(value, str) and value:
            return email_normalise(value)
    return context_email(m)


def identities_write(resolver: Resolver) -> None:
    """Insert the new links and move the moved ones (a query or two per kind, not per id)."""
    out = resolver.out
    fresh: list[Identity] = []
    moves: dict[str, dict[str, int]] = {ANON: {}, USER: {}}
    # A browser key that ties an id to a lead it did not just create only claims it
    # (anyone can type an email into a page): such a link raises no hand (selectors).
    created = {resolver.by_email[e] for e in out.created_emails if e in resolver.by_email}
    for (kind, value), lead_id in sorted(out.new_links.items()):
        target = resolver.live(lead_id)
        assert target is not None  # noqa: S101 (a link always names a lead)
        claimed = resolver.browser_key and target not in created
        if (kind, value) in out.moved_links:
            moves[kind][value] = target
        else:
            fresh.append(Identity(kind=kind, value=value, lead_id=target, claimed=claimed))
    if fresh:
        Identity.objects.bulk_create(fresh, ignore_conflicts=True, batch_size=1000)
    for kind, values in moves.items():
        if values:
            Identity.objects.filter(kind=kind, value__in=list(values)).update(
                lead_id=Case(*[When(value=v, then=Value(t)) for v, t in values.items()]),
                claimed=Case(
                    *[
                        When(value=v, then=Value(resolver.browser_key and t not in created))
                        for v, t in values.items()
                    ],
                    output_field=BooleanField(),
                ),
            )


def resolver_orphans_adopt(resolver: Resolver) -> tuple[Adoption, list[LeadChange]]:
    """The orphan events of the ids this call identified (new links, and the emails of the
    leads it created) join their leads; the identify and group calls among them become
    changes, applied with the others (latest wins)."""
    links: dict[str, dict[str, int]] = {ANON: {}, USER: {}}
    for (kind, value), lead_id in resolver.out.new_links.items():
        target = resolver.live(lead_id)
        if target is not None:
            links[kind][value] = target
    emails = {
        email: target
        for email in sorted(resolver.out.created_emails)
        if (target := resolver.live(resolver.by_email.get(email))) is not None
    }
    adoption = orphans_adopt(anonymous=links[ANON], users=links[USER], emails=emails)
    changes = []
    for data in adoption.data:
        columns, traits = message_lead_data(data.type, data.traits)
        external_id = data.user_id if data.type == "identify" else ""
        stamp = stamp_of(data.timestamp, data.message_id)
        changes.append(LeadChange(data.lead_id, columns, traits, stamp, external_id))
    return adoption, changes


def _identities(anon_ids: set[str], user_ids: set[str]) -> Iterable[tuple[str, str, int]]:
    """(kind, value, lead id) of the stored identities among these ids. On PostgreSQL one
    array parameter per kind (`= ANY`): a batch of 4,000 messages names thousands of ids, and
    Django's `IN` list costs a Python step per value and PostgreSQL a parse of each; the
    array travels as one JSON document (sqlparams.text_array)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT kind, value, lead_id FROM {Identity._meta.db_table} "  # noqa: S608 (a model's table)
                f"WHERE (kind = %s AND value = ANY({TEXT_ARRAY})) "
                f"OR (kind = %s AND value = ANY({TEXT_ARRAY}))",
                [ANON, text_array(anon_ids), USER, text_array(user_ids)],
            )
            found: list[tuple[str, str, int]] = cursor.fetchall()
            return found
    query = Q(pk__in=[])
    if anon_ids:
        query |= Q(kind=ANON, value__in=anon_ids)
    if user_ids:
        query |= Q(kind=USER, value__in=user_ids)
    return Identity.objects.filter(query).values_list("kind", "value", "lead_id")


def _leads_named(emails: set[str], external_ids: set[str]) -> Iterable[tuple[int, str, str]]:
    """(id, email, external id) of the leads with one of these emails or external ids, in id
    order (see `_identities` for the PostgreSQL form)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT id, email, external_id FROM {Lead._meta.db_table} "  # noqa: S608 (a model's table)
                f"WHERE (email = ANY({TEXT_ARRAY}) AND email <> '') "
                f"OR external_id = ANY({TEXT_ARRAY}) ORDER BY id",
                [text_array(emails), text_array(external_ids)],
            )
            leads: list[tuple[int, str, str]] = cursor.fetchall()
            return leads
    query = Q(pk__in=[])
    if emails:
        query |= Q(email__in=emails)
    if external_ids:
        query |= Q(external_id__in=external_ids)
    return Lead.objects.filter(query).order_by("pk").values_list("pk", "email", "external_id")
