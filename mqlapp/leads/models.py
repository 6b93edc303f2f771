"""Core tables (written by the core only): users, sources, lead profiles, identities, events,
consent, merges and erasures, forms and imports."""

import secrets

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower


class User(AbstractUser):
    """A person who signs in; the role is a group (marketer, sales, admin)."""

    available = models.BooleanField(default=True, help_text="A sales rep who is away gets no MQLs.")


def new_write_key() -> str:
    return "wk_" + secrets.token_urlsafe(24)


class Source(models.Model):
    """A place events come from; its write key may only send events.

    A browser key sits in public web pages, so anyone may copy it: it may add what a visitor
    does and fill a lead's blanks, never merge two known leads, overwrite a lead's data or
    fast-track a lead it does not own (docs/security.md). A server key, kept on a server,
    has Segment's full semantics.
    """

    class Kind(models.TextChoices):
        BROWSER = "browser"
        SERVER = "server"

    name = models.CharField(max_length=200)
    write_key = models.CharField(max_length=64, unique=True, default=new_write_key)
    # The safe side when nothing decided: source_create chooses by the allowed origins.
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.BROWSER)
    allowed_origins = models.JSONField(default=list, blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    key_rotated_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name


# A person's own data on a lead, besides the email (what traits, forms and imports fill in),
# in the order Japanese forms and spreadsheets show it: family name first.
PROFILE_FIELDS = (
    "last_name",
    "first_name",
    "company",
    "department",
    "title",
    "phone",
    "employees",
    "country",
    "industry",
)


class Lead(models.Model):
    """A person marketing nurtures: their own data. Score (scoring) and stage (handoff) live
    in rows those apps own, one per lead."""

    email = models.CharField(max_length=254, blank=True, default="")
    external_id = models.CharField(max_length=200, blank=True, default="")
    first_name = models.CharField(max_length=150, blank=True, default="")
    last_name = models.CharField(max_length=150, blank=True, default="")
    company = models.CharField(max_length=200, blank=True, default="")
    department = models.CharField(max_length=200, blank=True, default="")
    title = models.CharField(max_length=200, blank=True, default="")
    phone = models.CharField(max_length=50, blank=True, default="")
    employees = models.IntegerField(null=True, blank=True)
    country = models.CharField(max_length=100, blank=True, default="")
    industry = models.CharField(max_length=200, blank=True, default="")
    traits = models.JSONField(default=dict, blank=True)
    # When each field's value was written, so the latest data wins whatever order messages
    # arrive in: {"title": [timestamp, messageId], "traits.plan": [...]}; a person's edit
    # carries the time of the edit and messageId "" (services.lead_apply, docs/ingestion.md).
    field_stamps = models.JSONField(default=dict, blank=True)
    source = models.ForeignKey(Source, null=True, blank=True, on_delete=models.SET_NULL)

    last_activity_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            # Emails are stored lower-cased (services normalise them), so equality is enough.
            models.UniqueConstraint(
                fields=["email"], condition=~Q(email=""), name="lead_email_unique"
            ),
        ]
        indexes = [models.Index(fields=["external_id"])]

    def __str__(self) -> str:
        return self.email or f"lead {self.pk}"


# The longest text each lead column holds (inputs are cut or refused to fit).
LEAD_TEXT_LIMITS = {f.name: f.max_length for f in Lead._meta.fields if f.max_length}


class Identity(models.Model):
    """An id a lead is known by in incoming messages: an anonymousId or a userId."""

    class Kind(models.TextChoices):
        ANONYMOUS = "anonymous"
        USER = "user"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    value = models.CharField(max_length=200)
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="identities")
    # Tied to an existing lead by a browser key (docs/security.md): a claim, not a proof.
    claimed = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "value"], name="identity_unique")]


class Event(models.Model):
    """One stored message, append-only; message_id makes it idempotent.

    On PostgreSQL the table is partitioned by month of `timestamp` (migration 0002,
    docs/partitioning.md): its primary key there is (id, timestamp), `id` stays unique by its
    sequence and is the pk the ORM uses, and `message_id` is kept unique by EventKey (a unique
    index on a partitioned table must hold the partition key). On SQLite it is this plain table.
    Insert through `event_store.events_insert`, which keeps the two together.
    """

    message_id = models.CharField(max_length=200, unique=True)
    # No foreign-key constraint in the database for either (db_constraint=False): its check
    # ran once per event row at commit, more than inserting the row cost; the one writer of
    # the column holds the rows it names instead, once per statement
    # (event_store.event_owners_hold, docs/partitioning.md).
    source = models.ForeignKey(
        Source, null=True, blank=True, on_delete=models.SET_NULL, db_constraint=False
    )
    lead = models.ForeignKey(
        Lead,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="events",
        db_constraint=False,
    )
    anonymous_id = models.CharField(max_length=200, blank=True, default="")
    user_id = models.CharField(max_length=200, blank=True, default="")
    # alias only: the id that `user_id` replaces (kept so a later identification can join them)
    previous_id = models.CharField(max_length=200, blank=True, default="")
    type = models.CharField(max_length=16)
    name = models.CharField(max_length=200, blank=True, default="")
    properties = models.JSONField(default=dict, blank=True)
    context = models.JSONField(default=dict, blank=True)
    traits = models.JSONField(default=dict, blank=True)
    # UTM: {"name", "source", "medium", "term", "content"} from context.campaign or the page URL
    campaign = models.JSONField(default=dict, blank=True)
    timestamp = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["lead", "timestamp"]),
            models.Index(
                fields=["anonymous_id"], condition=Q(lead__isnull=True), name="event_orphan_anon"
            ),
            models.Index(
                fields=["user_id"], condition=Q(lead__isnull=True), name="event_orphan_user"
            ),
            # A userId that is an email names its lead whatever the case (orphans.py).
            models.Index(
                Lower("user_id"), condition=Q(lead__isnull=True), name="event_orphan_user_ci"
            ),
            models.Index(
                fields=["previous_id"],
                condition=Q(lead__isnull=True) & ~Q(previous_id=""),
                name="event_orphan_alias",
            ),
        ]


class EventKey(models.Model):
    """A messageId stored in the events table (PostgreSQL): the one place it is unique across
    every monthly partition. `timestamp` is the stored event's, so a key's partition is known.
    Written in the same statement as the event (event_store.events_insert); dropped with its
    month by retention; kept when a lead is erased or deleted (a message id is no personal
    data, and a late SDK retry of that message must not be stored again)."""

    message_id = models.CharField(max_length=200, primary_key=True)
    timestamp = models.DateTimeField()


class InboxBatch(models.Model):
    """A large /v1/batch request's valid messages, accepted as one durable row and expanded
    into events on the `ingest` queue (docs/ingestion.md "Large batches"): the request is
    answered once this row is committed, and a worker stores its events (once per messageId,
    as any other request's) moments later. `messages` is the packed list (ingest.inbox), a
    JSON text; a row that cannot be expanded is set aside with its error and tried again
    later."""

    id = models.BigAutoField(primary_key=True)
    source = models.ForeignKey(
        Source, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    received_at = models.DateTimeField()
    count = models.PositiveIntegerField()
    messages = models.TextField()
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    # set aside after a failure: not claimed again before this moment
    not_before = models.DateTimeField(null=True, blank=True)


class LeadMerge(models.Model):
    """Two leads found to be one person (alias): what the merged-away lead held, which of its
    rows moved and what the survivor took from it, so that an admin can undo it."""

    into = models.ForeignKey(
        Lead, null=True, blank=True, on_delete=models.SET_NULL, related_name="merges"
    )
    merged_lead_id = models.BigIntegerField()
    merged_email = models.CharField(max_length=254, blank=True, default="")
    merged_data = models.JSONField(default=dict, blank=True)
    reason = models.CharField(max_length=20, default="alias")
    message_id = models.CharField(max_length=200, blank=True, default="")
    events_moved = models.PositiveIntegerField(default=0)
    at = models.DateTimeField()
    # The survivor's values before the merge of the fields it filled from the duplicate, and
    # the trait names it took: an undo gives back only what still came from the duplicate.
    survivor_filled = models.JSONField(default=dict, blank=True)
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )


class LeadMergeRow(models.Model):
    """One row of the merged-away lead (event, identity, consent) that the merge moved."""

    class Table(models.TextChoices):
        EVENT = "event"
        IDENTITY = "identity"
        CONSENT = "consent"

    merge = models.ForeignKey(LeadMerge, on_delete=models.CASCADE, related_name="rows")
    table = models.CharField(max_length=10, choices=Table.choices)
    row_id = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["merge", "table"])]


def default_form_required() -> list[str]:
    return ["email", "last_name", "first_name", "company"]


class Form(models.Model):
    """A landing-page form posted to /f/<slug>/ (the fields of a Japanese B2B download form)."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)
    thank_you_url = models.URLField(max_length=500, blank=True, default="")
    consent_text = models.TextField(blank=True, default="")
    consent_version = models.PositiveIntegerField(default=1)
    required_fields = models.JSONField(default=default_form_required, blank=True)
    source = models.ForeignKey(Source, null=True, blank=True, on_delete=models.SET_NULL)
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.name


class Consent(models.Model):
    """A person agreed to a form's consent wording: which version, when, from which address."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="consents")
    form = models.ForeignKey(Form, null=True, blank=True, on_delete=models.SET_NULL)
    text = models.TextField()
    version = models.PositiveIntegerField()
    given_at = models.DateTimeField()
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True, default="")


class ImportJob(models.Model):
    """A CSV import running in the background; the file is kept until the job is done."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    filename = models.CharField(max_length=255, blank=True, default="")
    sha256 = models.CharField(max_length=64)
    data = models.BinaryField(default=bytes)
    encoding = models.CharField(max_length=20, blank=True, default="")
    mapping = models.JSONField(default=dict, blank=True)
    source = models.ForeignKey(Source, null=True, blank=True, on_delete=models.SET_NULL)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL)
    total = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)


class ImportRowError(models.Model):
    """Why one row of an import was not taken (row 1 is the header, as in a spreadsheet)."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="row_errors")
    row = models.PositiveIntegerField()
    error = models.CharField(max_length=500)

    class Meta:
        ordering = ["row"]
        constraints = [
            models.UniqueConstraint(fields=["job", "row"], name="import_row_error_unique")
        ]


class Erasure(models.Model):
    """A lead's personal data was erased (SPEC §6): when, by whom, how much; no personal data."""

    # The lead row stays (blanked) so reports still count it; one erasure per lead.
    lead = models.OneToOneField(Lead, on_delete=models.CASCADE, related_name="erasure")
    at = models.DateTimeField()
    by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    counts = models.JSONField(default=dict, blank=True)
