"""Load leads' facts for the engine, only the events and fields the rules can read.

`engine.needs(rules)` says what a score can depend on; PostgreSQL is asked only for those
events (a superset filter, re-checked exactly here) and only those JSON paths. Any other
database loads whole events and reduces them with `engine.project`: the same facts.
"""

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.db import connection

from mqlapp.models import Event, Lead

from .. import engine
from ..engine.conditions import name_key

# Lead columns the engine reads (fit fields, traits, the score epoch).
LEAD_FACT_FIELDS = (
    "email",
    "company",
    "title",
    "department",
    "employees",
    "country",
    "industry",
    "traits",
    "score_epoch",
)
# What Python's str.strip() removes from an ASCII name.
_ASCII_SPACE = " \t\n\x0b\x0c\r\x1c\x1d\x1e\x1f"
_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_PAGE, _SCREEN = name_key("page"), name_key("screen")


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
        score_epoch=lead.score_epoch,
    )


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


def _paths_sql(
    column: str, paths: frozenset[tuple[str, ...]] | None
) -> tuple[list[str], list[Any]]:
    if paths is None:
        return [f"e.{column}"], []
    ordered = sorted(paths)
    return [f"e.{column} #> %s" for _ in ordered], [list(path) for path in ordered]


def _nest(paths: Sequence[tuple[str, ...]], values: Sequence[str | None]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for path, raw in zip(paths, values, strict=True):
        if raw is None:  # SQL NULL: the path is not there
            continue
        node = found
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = json.loads(raw)
    return found


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
        # An ASCII name can only match an ASCII key, and for ASCII str.strip().casefold()
        # is this btrim + translate; every other name goes to Python for the exact test.
        parts.append(
            "(e.type = 'track' AND (octet_length(e.name) <> char_length(e.name)"
            " OR translate(btrim(e.name, %s), %s, %s) = ANY(%s)))"
        )
        params += [
            _ASCII_SPACE,
            _UPPER,
            _UPPER.lower(),
            sorted(k for k in track_keys if k.isascii()),
        ]
    return "(" + " OR ".join(parts or ["FALSE"]) + ")", params


def _events_sql(
    lead_ids: Sequence[int] | None, *, plan: engine.Needs, id_range: tuple[int, int] | None
) -> dict[int, list[engine.EventFact]]:
    prop_cols, prop_params = _paths_sql("properties", plan.properties)
    ctx_cols, ctx_params = _paths_sql("context", plan.context)
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
    columns = ", ".join(
        ["e.lead_id", "e.message_id", "e.type", "e.name", "e.timestamp", *prop_cols, *ctx_cols]
    )
    # Only fixed SQL fragments are joined here; every value is a bound parameter.
    table = Event._meta.db_table
    sql = f"SELECT {columns} FROM {table} e WHERE {' AND '.join(conditions)}"  # noqa: S608
    props = sorted(plan.properties) if plan.properties is not None else None
    ctxs = sorted(plan.context) if plan.context is not None else None
    n_props = len(prop_cols)
    found: dict[int, list[engine.EventFact]] = defaultdict(list)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(5000):
            for row in rows:
                lead_id, message_id, kind, name, at = row[:5]
                extra = row[5:]
                properties = _whole(extra[0]) if props is None else _nest(props, extra[:n_props])
                rest = extra[n_props:]
                context = _whole(rest[0]) if ctxs is None else _nest(ctxs, rest)
                event = engine.EventFact(message_id, kind, name, at, properties, context)
                if plan.wants(event):
                    found[lead_id].append(event)
    return found


def _whole(raw: str | Mapping[str, Any] | None) -> Mapping[str, Any]:
    if raw is None:
        return {}
    value = json.loads(raw) if isinstance(raw, str) else raw
    return value if isinstance(value, Mapping) else {}


def leads_facts(
    leads: Iterable[Lead], events: Mapping[int, Sequence[engine.EventFact]]
) -> dict[int, engine.LeadFacts]:
    return {lead.pk: lead_facts(lead, events.get(lead.pk, ())) for lead in leads}
