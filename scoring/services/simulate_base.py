"""The simulator's per-lead base: stage, the stored contributions it reuses, the lead's facts."""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

from django.db import connection

from mqlapp.models import Lead

from .. import engine
from ..models import LeadScore

_ZERO: Final = Decimal(0)
_SAME: Final[Any] = object()
FACT_COLUMNS = (
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


@dataclass(frozen=True)
class BaseRow:
    """One lead as the simulator needs it; `reused` sums the stored contributions of the
    draft rules that equal live ones (score and its fit part)."""

    id: int
    stage: str
    rules_version: int | None = None
    reused: Decimal = _ZERO
    reused_fit: Decimal = _ZERO
    data: Mapping[str, Any] = field(default_factory=dict)

    def facts(self, events: Sequence[engine.EventFact], *, epoch: Any = _SAME) -> engine.LeadFacts:
        data = self.data
        return engine.LeadFacts(
            email=data.get("email") or "",
            company=data.get("company") or "",
            title=data.get("title") or "",
            department=data.get("department") or "",
            employees=data.get("employees"),
            country=data.get("country") or "",
            industry=data.get("industry") or "",
            traits=data.get("traits") or {},
            events=tuple(events),
            score_epoch=data.get("score_epoch") if epoch is _SAME else epoch,
        )


def _traits(value: Any) -> Mapping[str, Any]:
    loaded = json.loads(value) if isinstance(value, str) else value
    return loaded if isinstance(loaded, Mapping) else {}


def base_rows(
    *,
    after: int,
    limit: int,
    reuse: Mapping[int, int],
    facts: bool,
    fast: bool | None = None,
) -> list[BaseRow]:
    """The next `limit` leads with id > `after`, in id order."""
    if fast is None:
        fast = connection.vendor == "postgresql"
    if fast:
        return _base_sql(after=after, limit=limit, reuse=reuse, facts=facts)
    return _base_orm(after=after, limit=limit, reuse=reuse, facts=facts)


def _base_sql(*, after: int, limit: int, reuse: Mapping[int, int], facts: bool) -> list[BaseRow]:
    lead, detail = Lead._meta.db_table, LeadScore._meta.db_table
    columns = ["l.id", "l.stage", "d.rules_version"]
    joins = [f"LEFT JOIN {detail} d ON d.lead_id = l.id"]
    params: list[Any] = []
    if reuse:
        # Sum, inside PostgreSQL, the stored points of the reused rules (times their count
        # in the draft); the numbers are the JSON text, so the sums are exact.
        columns += ["COALESCE(r.total, 0)", "COALESCE(r.fit, 0)"]
        joins.append(
            "LEFT JOIN LATERAL (SELECT SUM((e->>'points')::numeric * m.times) AS total, "
            "SUM(CASE WHEN e->>'kind' = 'fit' THEN (e->>'points')::numeric * m.times "
            "ELSE 0 END) AS fit FROM jsonb_array_elements(d.breakdown) e "
            "JOIN unnest(%s::bigint[], %s::int[]) AS m(rule_id, times) "
            "ON m.rule_id = (e->>'rule_id')::bigint) r ON TRUE"
        )
        ids = sorted(reuse)
        params += [ids, [reuse[i] for i in ids]]
    if facts:
        columns += [f"l.{name}" for name in FACT_COLUMNS]
    params += [after, limit]
    sql = (
        f"SELECT {', '.join(columns)} FROM {lead} l {' '.join(joins)} "  # noqa: S608
        "WHERE l.id > %s ORDER BY l.id LIMIT %s"
    )
    rows: list[BaseRow] = []
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for row in cursor.fetchall():
            lead_id, stage, version, *rest = row
            reused = reused_fit = _ZERO
            if reuse:
                reused, reused_fit, *rest = rest
            data = dict(zip(FACT_COLUMNS, rest, strict=True)) if facts else {}
            if facts:
                data["traits"] = _traits(data["traits"])
            rows.append(BaseRow(lead_id, stage, version, reused, reused_fit, data))
    return rows


def _reused_sums(breakdown: Any, reuse: Mapping[int, int]) -> tuple[Decimal, Decimal]:
    total = fit = _ZERO
    for item in breakdown or ():
        times = reuse.get(item.get("rule_id"))
        if times:
            points = Decimal(str(item["points"])) * times
            total += points
            fit += points if item.get("kind") == "fit" else 0
    return total, fit


def _base_orm(*, after: int, limit: int, reuse: Mapping[int, int], facts: bool) -> list[BaseRow]:
    names = ["id", "stage", *(FACT_COLUMNS if facts else ())]
    leads = list(Lead.objects.filter(pk__gt=after).order_by("pk").values(*names)[:limit])
    details = {
        lead_id: (version, breakdown)
        for lead_id, version, breakdown in LeadScore.objects.filter(
            lead_id__in=[x["id"] for x in leads]
        ).values_list("lead_id", "rules_version", "breakdown")
    }
    rows = []
    for item in leads:
        version, breakdown = details.get(item["id"], (None, None))
        total, fit = _reused_sums(breakdown, reuse) if reuse else (_ZERO, _ZERO)
        data = {name: item[name] for name in FACT_COLUMNS} if facts else {}
        rows.append(BaseRow(item["id"], item["stage"], version, total, fit, data))
    return rows


def lead_rows(ids: Sequence[int], *, fast: bool | None = None) -> list[BaseRow]:
    """These leads with their facts (for full evaluation), in id order."""
    del fast  # an indexed lookup by id: the ORM is fast enough everywhere
    rows = Lead.objects.filter(pk__in=list(ids)).order_by("pk").values("id", "stage", *FACT_COLUMNS)
    return [
        BaseRow(item["id"], item["stage"], data={name: item[name] for name in FACT_COLUMNS})
        for item in rows
    ]
