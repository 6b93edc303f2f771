"""Writes of the core domain: users, sources, leads; the apps above hear of them through hooks."""

import contextlib
import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from . import hooks
from .errors import InvalidInput
from .ingest.fields import employees_parse
from .ingest.messages import email_normalise
from .models import LEAD_TEXT_LIMITS, Lead, Source, User, new_write_key
from .orphans import Adoption, orphans_adopt
from .publisher import publisher
from .roles import ROLES

log = logging.getLogger(__name__)

# Trait names (Segment spec and snake_case) that map onto lead columns.
TRAIT_FIELDS = {
    "email": "email",
    "firstName": "first_name",
    "first_name": "first_name",
    "lastName": "last_name",
    "last_name": "last_name",
    "company": "company",
    "title": "title",
    "department": "department",
    "phone": "phone",
    "employees": "employees",
    "country": "country",
    "industry": "industry",
}


# --- users and sources --------------------------------------------------------------------


@transaction.atomic
def user_create(*, username: str, password: str, email: str = "", role: str) -> User:
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}", fields={"role": [role]})
    if User.objects.filter(username=username).exists():
        raise InvalidInput("That username is taken.", fields={"username": ["taken"]})
    try:
        validate_password(password)
    except ValidationError as exc:
        raise InvalidInput("The password is too weak.", fields={"password": exc.messages}) from exc
    user = User.objects.create_user(username=username, password=password, email=email)
    group, _ = Group.objects.get_or_create(name=role)
    user.groups.add(group)
    return user


@transaction.atomic
def user_update(user: User, *, data: Mapping[str, Any]) -> User:
    if "role" in data:
        role = data["role"]
        if role not in ROLES:
            raise InvalidInput(f"role must be one of {', '.join(ROLES)}")
        user.groups.remove(*Group.objects.filter(name__in=ROLES))
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    for name in ("email", "available", "is_active", "first_name", "last_name"):
        if name in data:
            setattr(user, name, data[name])
    if data.get("password"):
        try:
            validate_password(data["password"], user)
        except ValidationError as exc:
            raise InvalidInput(
                "The password is too weak.", fields={"password": exc.messages}
            ) from exc
        user.set_password(data["password"])
    user.save()
    return user


def source_kind_default(allowed_origins: list[str]) -> str:
    """A key allowed in web pages is a browser key; one allowed in none can only be used from
    a server (browsers send an Origin, which /v1 refuses), so it keeps Segment's semantics."""
    return Source.Kind.BROWSER if allowed_origins else Source.Kind.SERVER


def _kind_clean(kind: str | None, allowed_origins: list[str]) -> str:
    if kind in (None, ""):
        return source_kind_default(allowed_origins)
    if kind not in Source.Kind.values:
        choices = ", ".join(Source.Kind.values)
        raise InvalidInput(f"kind must be one of {choices}", fields={"kind": [str(kind)]})
    return str(kind)


ORIGIN_MAX = 200
SOURCE_NAME_MAX = 200  # the column's length


def origin_valid(origin: str) -> bool:
    """An origin as browsers send it: http(s)://host[:port], nothing after; or "*"."""
    if origin == "*":
        return True
    try:
        parts = urlsplit(origin)
        parts.port  # noqa: B018 (raises ValueError on a port that is not one)
    except ValueError:
        return False
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and not (parts.path or parts.query or parts.fragment or parts.username)
        and len(origin) <= ORIGIN_MAX
    )


def origins_clean(values: Any) -> list[str]:
    """Allowed origins as stored (no trailing slash), or InvalidInput naming the bad one."""
    message = "allowed origins are a list such as https://www.example.co.jp (no path)"
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise InvalidInput(message, fields={"allowed_origins": [message]})
    origins = [v.strip().rstrip("/") for v in values if v.strip()]
    for origin in origins:
        if not origin_valid(origin):
            raise InvalidInput(
                f"{origin[:100]!r} is not an origin", fields={"allowed_origins": [origin[:100]]}
            )
    return list(dict.fromkeys(origins))


def source_create(*, name: str, allowed_origins: list[str], kind: str | None = None) -> Source:
    origins = origins_clean(allowed_origins)
    kind = _kind_clean(kind, origins)
    return Source.objects.create(name=name, allowed_origins=origins, kind=kind)


@transaction.atomic
def source_update(source: Source, *, data: Mapping[str, Any]) -> Source:
    """Change name, allowed origins, active and kind. A key that becomes a server key gets a
    new write key: the old one may sit in a web page, and must not gain server powers."""
    source = Source.objects.select_for_update().get(pk=source.pk)
    if "allowed_origins" in data:
        source.allowed_origins = origins_clean(data["allowed_origins"])
    if "name" in data:
        name = str(data["name"]).strip()
        if not name or len(name) > SOURCE_NAME_MAX:
            raise InvalidInput("A name of 1 to 200 characters.", fields={"name": [name[:100]]})
        source.name = name
    if "active" in data:
        source.active = bool(data["active"])
    if data.get("kind") not in (None, ""):
        kind = _kind_clean(data["kind"], source.allowed_origins)
        if kind == Source.Kind.SERVER and source.kind != Source.Kind.SERVER:
            _key_renew(source)
        source.kind = kind
    source.save()
    return source


@transaction.atomic
def source_rotate(source: Source) -> Source:
    """A new write key; the old one is refused from now on (401)."""
    source = Source.objects.select_for_update().get(pk=source.pk)
    _key_renew(source)
    source.save(update_fields=["write_key", "key_rotated_at"])
    return source


def _key_renew(source: Source) -> None:
    source.write_key = new_write_key()
    source.key_rotated_at = timezone.now()


# --- leads ----------------------------------------------------------------------------------


def lead_fields_from_traits(traits: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split traits into lead columns and the rest (kept in `traits`)."""
    columns: dict[str, Any] = {}
    rest: dict[str, Any] = {}
    for key, value in traits.items():
        column = TRAIT_FIELDS.get(key)
        if column is None:
            if key == "address" and isinstance(value, dict) and value.get("country"):
                # cut to the column like the country trait (a long one was a 500)
                with contextlib.suppress(ValueError):
                    columns.setdefault("country", _trait_value("country", value["country"]))
            rest[key] = value
            continue
        try:
            columns[column] = _trait_value(column, value)
        except ValueError:  # an employee count that is not one: kept as sent
            rest[key] = value
    return columns, rest


def _trait_value(column: str, value: Any) -> Any:
    if column == "company" and isinstance(value, dict):
        value = value.get("name", "")
    if column == "employees":
        return employees_parse(str(value)) if value not in (None, "") else None
    if column == "email":
        return email_normalise(str(value)) if value else ""
    text = "" if value is None else str(value).strip()
    limit = LEAD_TEXT_LIMITS.get(column)
    return text[:limit] if limit else text


# When a field's value was written: (UTC time in ISO 8601 with microseconds, messageId). The
# strings sort as the times do; a person's edit has messageId "". See docs/ingestion.md.
Stamp = tuple[str, str]
TRAIT_STAMP = "traits."


def stamp_of(at: datetime, message_id: str = "") -> Stamp:
    return (at.astimezone(UTC).isoformat(timespec="microseconds"), message_id)


def _newer(stamp: Stamp, held: Any) -> bool:
    """Latest wins: a later time, or the same time and a greater messageId. A field written
    before stamps existed (or never) has none: anything is newer."""
    return not held or stamp > (str(held[0]), str(held[1]))


def stamp_newer(theirs: Any, ours: Any) -> bool:
    """Of two fields' stamps as held (a list, or None), is `theirs` the later data?"""
    return bool(theirs) and _newer((str(theirs[0]), str(theirs[1])), ours)


def lead_apply(
    lead: Lead, *, columns: Mapping[str, Any], traits: Mapping[str, Any], stamp: Stamp
) -> bool:
    """Apply one message's data to a lead (not saved); True when something changed.

    Per field, the data with the latest stamp wins, whatever order the messages come in: a
    value is written only when `stamp` is newer than the one of the value it replaces, so a
    replayed or an older message changes nothing. An empty value is no data. A userId that is
    the lead's own email is no external id.
    """
    stamps = dict(lead.field_stamps or {})
    changed = False
    for name, value in columns.items():
        if value in ("", None) or not _newer(stamp, stamps.get(name)):
            continue
        if name == "external_id" and email_normalise(str(value)) == lead.email:
            continue
        stamps[name] = list(stamp)
        setattr(lead, name, value)
        changed = True
    merged = dict(lead.traits or {})
    for key, value in traits.items():
        if _newer(stamp, stamps.get(TRAIT_STAMP + key)):
            stamps[TRAIT_STAMP + key] = list(stamp)
            merged[key] = value
            changed = True
    if changed:
        lead.traits = merged
        lead.field_stamps = stamps
    return changed


def lead_edit_stamp(lead: Lead, names: Iterable[str], *, at: datetime) -> None:
    """A person set these fields (`traits.<key>` for a trait) at `at`: a message wins over
    the edit only when it is newer."""
    stamp = list(stamp_of(at))
    lead.field_stamps = {**(lead.field_stamps or {}), **dict.fromkeys(names, stamp)}


def message_lead_data(
    kind: str, traits: Mapping[str, Any], *, group_id: str = ""
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The lead data an identify or a group call carries: (columns, traits). The email is no
    data here: it names the lead (ingest/identity.py)."""
    if kind == "group":
        picked = {"company": traits["name"]} if traits.get("name") else {}
        for key in ("industry", "employees", "country"):
            if traits.get(key) not in (None, ""):
                picked[key] = traits[key]
        columns, _ = lead_fields_from_traits(picked)
        return columns, ({"group": {"id": group_id, **traits}} if group_id else {})
    columns, rest = lead_fields_from_traits(traits)
    columns.pop("email", None)
    return columns, rest


def orphans_join(lead: Lead, adoption: Adoption) -> None:
    """Apply to `lead` (not saved) what the events it just adopted carry: the data of its
    identify and group calls (latest wins), and its newest activity."""
    for data in adoption.data:
        if data.lead_id != lead.pk:
            continue
        columns, rest = message_lead_data(data.type, data.traits)
        if data.type == "identify" and data.user_id:
            columns["external_id"] = data.user_id
        lead_apply(
            lead, columns=columns, traits=rest, stamp=stamp_of(data.timestamp, data.message_id)
        )
    latest = adoption.latest.get(lead.pk)
    if latest and (lead.last_activity_at is None or lead.last_activity_at < latest):
        lead.last_activity_at = latest


def task_kick(name: str, *args: Any) -> None:
    """Send a task by name without waiting for the broker: the publisher thread sends it, and
    drops it if the broker is down (the periodic sweeps catch up). Eager mode runs it here."""
    from celery import current_app as app  # noqa: PLC0415 (the app is set up by the shell)

    if not app.conf.task_always_eager:
        publisher.kick(name, args)
        return
    try:
        app.tasks[name].apply(args=args)
    except Exception:  # the data is stored; the periodic sweep will handle it
        log.warning("task %s failed; the periodic sweep will pick the work up", name, exc_info=True)


@transaction.atomic
def lead_create(*, data: Mapping[str, Any], source: Source | None = None) -> Lead:
    """A lead typed in by a person; events sent earlier under its email join it."""
    email = email_normalise(data.get("email") or "")
    if email and Lead.objects.filter(email=email).exists():
        raise InvalidInput("A lead with this email exists.", fields={"email": ["exists"]})
    lead = Lead(source=source, email=email)
    columns = {k: v for k, v in data.items() if k not in ("traits", "email")}
    lead_apply(
        lead, columns=columns, traits=data.get("traits") or {}, stamp=stamp_of(timezone.now())
    )
    lead.save()
    hooks.leads_created([lead.pk])
    if email:
        orphans_join(lead, orphans_adopt(emails={email: lead.pk}))
        lead.save()
    hooks.leads_changed([lead.pk])
    return lead


@transaction.atomic
def lead_update(lead: Lead, *, data: Mapping[str, Any]) -> Lead:
    """Change a lead's own data (never its score, stage or owner); fit rules re-apply.

    What a person sets wins over the data of messages sent before the edit (docs/ingestion.md);
    an email new to the lead adopts the events sent earlier under it.
    """
    now = timezone.now()
    edited: list[str] = []
    gained_email = ""
    for name, value in data.items():
        if name == "traits":  # the whole dict is replaced: keys dropped are edited too
            edited += [TRAIT_STAMP + key for key in {*(lead.traits or {}), *(value or {})}]
            lead.traits = value or {}
            continue
        if name != "email":
            edited.append(name)
            setattr(lead, name, value)
            continue
        email = email_normalise(value or "")
        if email and Lead.objects.filter(email=email).exclude(pk=lead.pk).exists():
            raise InvalidInput("A lead with this email exists.", fields={"email": ["exists"]})
        if email != lead.email:
            gained_email = email
        lead.email = email
    lead_edit_stamp(lead, edited, at=now)
    if gained_email:
        orphans_join(lead, orphans_adopt(emails={gained_email: lead.pk}))
    lead.save()
    hooks.leads_changed([lead.pk])
    return lead
