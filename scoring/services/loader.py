"""Load leads' facts for the engine, only the events and fields the rules can read.

`engine.needs(rules)` says what a score can depend on; PostgreSQL is asked only for those
events (a superset filter, re-checked exactly here) and only those JSON paths. Any other
database loads whole events and reduces them with `engine.project`: the same facts.
"""

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import Any

import orjson
from django.db import connection
from django.db.models import F, QuerySet, TextField
from django.db.models.functions import Cast

from mqlapp.leads.event_store import track_name_key
from mqlapp.leads.models import Event, Lead

from .. import engine
from ..engine.conditions import name_key

# What the engine reads of a lead: the core's columns (fit fields, traits) and scoring's own
# score epoch (`leads_for_facts` puts it beside them).
LEAD_PROFILE_FACT_FIELDS = (
    "email",
    "company",
    "title",
    "department",
    "employees",
    "country",
    "industry",
    "traits",
)
LEAD_FACT_FIELDS = (*LEAD_PROFILE_FACT_FIELDS, "score_epoch")
# What Python's str.strip() removes from an ASCII name.
_ASCII_SPACE = " \t\n\x0b\x0c\r\x1c\x1d\x1e\x1f"
_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_PAGE, _SCREEN = name_key("page"), name_key("screen")
_MAX_PATHS = 90
# Shared by events that carry no field a rule reads; the engine never mutates facts.
_EMPTY: Mapping[str, Any] = MappingProxyType({})


def leads_for_facts(leads: QuerySet[Lead]) -> QuerySet[Lead]:
    """These leads with only the columns the engine reads, and `score_epoch` (scoring's)."""
    return leads.only(*LEAD_PROFILE_FACT_FIELDS).annotate(score_epoch=F("scoring__epoch"))


def lead_facts(lead: Lead, events: Sequence[engine.EventFact] = ()) -> engine.LeadFacts:
    return engine.LeadFacts(
        email=lead.email,
        company=lead.company,
        title=lead.title,
        department=lead.department,
        employees=lead.employees,
        country=lead.country,
        industry=lead.industry,
        traits=lead.traits or {},
        events=tuple(events),
        score_epoch=lead.score_epoch,  # type: ignore[attr-defined]
    )


def lead_columns(plan: engine.Needs) -> tuple[str, ...]:
    """The lead columns (of LEAD_PROFILE_FACT_FIELDS) the fit rules of `plan` read."""
    wanted: set[str] = set()
    for name in plan.lead_fields:
        if name == "email_domain":
            wanted.add("email")
        elif name in engine.FIT_FIELDS:
            wanted.add(name)
        elif name.startswith("traits."):
            wanted.add("traits")
    return tuple(name for name in LEAD_PROFILE_FACT_FIELDS if name in wanted)


def lead_profiles(lead_ids: Sequence[int], *, plan: engine.Needs) -> dict[int, dict[str, Any]]:
    """These leads (those that exist) in id order, each with the profile fields `plan` reads
    as `engine.LeadFacts` keyword arguments; the fields no rule reads are left out (the
    engine then sees their defaults, which no rule reads either)."""
    columns = lead_columns(plan)
    values: list[Any] = [name for name in columns if name != "traits"]
    if "traits" in columns:  # as text: no model instance; json reads it as Django would
        values.append(Cast("traits", TextField()))
    names = [name for name in columns if name != "traits"] + (
        ["traits"] if "traits" in columns else []
    )
    rows = Lead.objects.filter(pk__in=list(lead_ids)).order_by("pk").values_list("pk", *values)
    found: dict[int, dict[str, Any]] = {}
    for pk, *fields in rows:
        profile = dict(zip(names, fields, strict=True))
        if "traits" in profile:
            text = profile["traits"]
            profile["traits"] = (json.loads(text) if text is not None else None) or {}
        found[pk] = profile
    return found


def _fast() -> bool:
    return connection.vendor == "postgresql"


def events_load(
    lead_ids: Sequence[int] | None = None,
    *,
    plan: engine.Needs,
    id_range: tuple[int, int] | None = None,
    fast: bool | None = None,
) -> dict[int, list[engine.EventFact]]:
    """The events of `lead_ids` (or of leads with ids in `id_range`, inclusive) that `plan`
    says can matter, reduced to the fields it reads."""
    if not plan.events or (lead_ids is not None and not lead_ids):
        return {}
    if fast is None:
        fast = _fast()
    if fast:
        return _events_sql(lead_ids, plan=plan, id_range=id_range)
    return _events_orm(lead_ids, plan=plan, id_range=id_range)


def _events_orm(
    lead_ids: Sequence[int] | None, *, plan: engine.Needs, id_range: tuple[int, int] | None
) -> dict[int, list[engine.EventFact]]:
    rows = Event.objects.filter(type__in=engine.EVERY_EVENT)
    if lead_ids is not None:
        rows = rows.filter(lead_id__in=list(lead_ids))
    if id_range is not None:
        rows = rows.filter(lead_id__gte=id_range[0], lead_id__lte=id_range[1])
    found: dict[int, list[engine.EventFact]] = defaultdict(list)
    values = rows.values_list(
        "lead_id", "message_id", "type", "name", "timestamp", "properties", "context"
    )
    for lead_id, message_id, kind, name, at, properties, context in values.iterator(2000):
        event = engine.EventFact(message_id, kind, name, at, properties or {}, context or {})
        projected = engine.project(event, plan)
        if projected is not None:
            found[lead_id].append(projected)
    return found


def _paths_sql(column: str, paths: Sequence[tuple[str, ...]] | None) -> tuple[list[str], list[Any]]:
    if paths is None:
        return [f"e.{column}"], []
    # A one-key path reads with -> (the same value as #> '{key}', a little cheaper).
    sql = [f"e.{column} -> %s" if len(path) == 1 else f"e.{column} #> %s" for path in paths]
    return sql, [path[0] if len(path) == 1 else list(path) for path in paths]


def _nest(paths: Sequence[tuple[str, ...]], values: Sequence[Any]) -> Mapping[str, Any]:
    if len(paths) == 1 and len(paths[0]) == 1:  # the common case: one top-level field
        value = values[0]
        return _EMPTY if value is None else {paths[0][0]: value}
    found: dict[str, Any] = {}
    for path, value in zip(paths, values, strict=True):
        if value is None:  # not there, or JSON null: the same to the engine
            continue
        node = found
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return found


_lower_ascii: dict[str, bool] = {}


def _lower_is_ascii() -> bool:
    """Whether this database's lower() maps A-Z to a-z (not so under a Turkish collation)."""
    name = str(connection.settings_dict.get("NAME"))
    if name not in _lower_ascii:
        with connection.cursor() as cursor:
            cursor.execute("SELECT lower(%s) = %s", [_UPPER, _UPPER.lower()])
            _lower_ascii[name] = bool(cursor.fetchone()[0])
    return _lower_ascii[name]


def track_names_where(keys: Iterable[str], *, alias: str) -> tuple[str, list[Any]]:
    """SQL (and its parameters) keeping at least the track events of table `alias` whose name
    has one of these keys (`engine.conditions.name_key`); the caller re-checks each name in
    Python, which applies the exact rule."""
    ascii_keys = sorted(k for k in keys if k.isascii())
    # An ASCII name can only match an ASCII key, and for ASCII str.strip().casefold() is
    # lower-casing A-Z after trimming; names that are not ASCII, or start or end with a
    # space or control character, go to Python, which applies the exact rule.
    # Spelled as the index on track names holds it (event_store.track_name_key): a
    # range of leads' events of a few names is read from the index, not all of them.
    if _lower_is_ascii():
        key = track_name_key(f"{alias}.name")
        return f"({alias}.type = 'track' AND ({key} = ANY(%s) OR {key} IS NULL))", [ascii_keys]
    # A collation where lower('I') is not 'i': spell the ASCII mapping out.
    return (
        f"({alias}.type = 'track' AND (octet_length({alias}.name) <> char_length({alias}.name)"
        f" OR translate(btrim({alias}.name, %s), %s, %s) = ANY(%s)))",
        [_ASCII_SPACE, _UPPER, _UPPER.lower(), ascii_keys],
    )


def _where_events(plan: engine.Needs) -> tuple[str, list[Any]]:
    """A filter that keeps at least every event `plan` wants (re-checked in Python)."""
    if plan.every_event:
        return "e.type IN ('track', 'page', 'screen')", []
    parts: list[str] = []
    params: list[Any] = []
    if _PAGE in plan.keys:
        parts.append("e.type = 'page'")
    if _SCREEN in plan.keys:
        parts.append("e.type = 'screen'")
    track_keys = plan.keys - {_PAGE, _SCREEN}
    if track_keys:
        sql, more = track_names_where(track_keys, alias="e")
        parts.append(sql)
        params += more
    return "(" + " OR ".join(parts or ["FALSE"]) + ")", params


def _events_sql(
    lead_ids: Sequence[int] | None, *, plan: engine.Needs, id_range: tuple[int, int] | None
) -> dict[int, list[engine.EventFact]]:
    props = sorted(plan.properties) if plan.properties is not None else None
    ctxs = sorted(plan.context) if plan.context is not None else None
    if len(props or ()) + len(ctxs or ()) > _MAX_PATHS:  # json_build_array takes 100 args
        props = ctxs = None
    prop_cols, prop_params = _paths_sql("properties", props)
    ctx_cols, ctx_params = _paths_sql("context", ctxs)
    where, where_params = _where_events(plan)
    conditions = [where]
    params: list[Any] = [*prop_params, *ctx_params, *where_params]
    if lead_ids is not None:
        conditions.append("e.lead_id = ANY(%s)")
        params.append(list(lead_ids))
    if id_range is not None:
        conditions.append("e.lead_id BETWEEN %s AND %s")
        params += list(id_range)
    else:
        conditions.append("e.lead_id IS NOT NULL")
    # One row per lead, its events as one JSON text (parsed by orjson, in C): far fewer
    # Python steps than a row per event. Times as JSON text: ISO 8601 with the offset, exact
    # to the microsecond, and read by datetime.fromisoformat (in C).
    fields = ", ".join(["e.message_id", "e.type", "e.name", "e.timestamp", *prop_cols, *ctx_cols])
    table = Event._meta.db_table
    # Only fixed SQL fragments are joined here; every value is a bound parameter.
    sql = (
        f"SELECT e.lead_id, json_agg(json_build_array({fields}))::text "  # noqa: S608
        f"FROM {table} e WHERE {' AND '.join(conditions)} GROUP BY e.lead_id"
    )
    properties_of = _fields_reader(props, 4, len(prop_cols))
    context_of = _fields_reader(ctxs, 4 + len(prop_cols), len(ctx_cols))
    wanted_track: dict[str, bool] = {}
    wanted_type = {kind: plan.wants_kind(kind, "") for kind in ("page", "screen")}
    time_of = datetime.fromisoformat
    fact = engine.event_fact  # EventFact(...), in half the time
    found: dict[int, list[engine.EventFact]] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(2000):
            for lead_id, text in rows:
                kept = []
                for item in orjson.loads(text):
                    kind, name = item[1], item[2]
                    if kind == "track":
                        wanted = wanted_track.get(name)
                        if wanted is None:
                            wanted = wanted_track[name] = plan.wants_kind(kind, name)
                    else:
                        wanted = wanted_type.get(kind, False)
                    if wanted:
                        kept.append(
                            fact(
                                item[0],
                                kind,
                                name,
                                time_of(item[3]),
                                properties_of(item),
                                context_of(item),
                            )
                        )
                if kept:
                    found[lead_id] = kept
    return found


def _fields_reader(
    paths: Sequence[tuple[str, ...]] | None, start: int, count: int
) -> Callable[[list[Any]], Mapping[str, Any]]:
    """How an event's properties (or context) are rebuilt from its row's values
    `item[start:start + count]`: the whole object, or only `paths`, nested as stored."""
    if paths is None:
        return lambda item: _whole(item[start])
    if not paths:
        return lambda item: _EMPTY
    if len(paths) == 1 and len(paths[0]) == 1:  # the common case: one top-level field
        key = paths[0][0]

        def one(item: list[Any]) -> Mapping[str, Any]:
            value = item[start]
            return _EMPTY if value is None else {key: value}

        return one
    return lambda item: _nest(paths, item[start : start + count])


def _whole(raw: Any) -> Mapping[str, Any]:
    value = json.loads(raw) if isinstance(raw, str) else raw
    return value if isinstance(value, Mapping) else {}


def leads_facts(
    leads: Iterable[Lead], events: Mapping[int, Sequence[engine.EventFact]]
) -> dict[int, engine.LeadFacts]:
    return {lead.pk: lead_facts(lead, events.get(lead.pk, ())) for lead in leads}
