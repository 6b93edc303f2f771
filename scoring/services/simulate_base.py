"""The simulator's per-lead base: the stored contributions it reuses, the lead's facts."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

import orjson
from django.db import connection
from django.db.models import Count, F, Max, Min, QuerySet

from mqlapp.leads.models import Lead

from .. import engine
from ..models import LeadScore
from .loader import LEAD_FACT_FIELDS

_ZERO: Final = Decimal(0)
# Up to this many changed rules, each is found in the breakdown by a path query.
_FOUND_MAX: Final = 8
_SAME: Final[Any] = object()
FACT_COLUMNS = LEAD_FACT_FIELDS


@dataclass(frozen=True)
class BaseRow:
    """One lead as the simulator needs it; `reused` sums the stored contributions of the
    draft rules that equal live ones (score and its fit part)."""

    id: int
    rules_version: int | None = None
    reused: Decimal = _ZERO
    reused_fit: Decimal = _ZERO
    data: Mapping[str, Any] = field(default_factory=dict)
    # The score and fit stored now (under the live rules): what a draft's scores change from.
    stored: Decimal = _ZERO
    stored_fit: Decimal = _ZERO

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


def fact_columns(rules: Sequence[engine.Rule]) -> tuple[str, ...]:
    """The lead columns `rules` can read (loading traits JSON for 100,000 leads costs)."""
    if not rules:
        return ()
    fields = engine.needs(rules).lead_fields
    wanted = {"score_epoch"} if any(rule.kind != "fit" for rule in rules) else set()
    for name in fields:
        wanted.add("email" if name == "email_domain" else name.partition(".")[0])
    return tuple(name for name in FACT_COLUMNS if name in wanted)


def _traits(value: Any) -> Mapping[str, Any]:
    loaded = orjson.loads(value) if isinstance(value, str) else value
    return loaded if isinstance(loaded, Mapping) else {}


def lead_ids_span() -> tuple[int, int, int]:
    """The lowest and highest lead id and the number of leads (0, -1, 0 when none)."""
    span = Lead.objects.aggregate(low=Min("pk"), high=Max("pk"), count=Count("pk"))
    if not span["count"]:
        return 0, -1, 0
    return span["low"], span["high"], span["count"]


def base_rows(
    *,
    low: int,
    high: int,
    adjust: Mapping[int, int] | None,
    columns: Sequence[str] = (),
    fast: bool | None = None,
) -> list[BaseRow]:
    """The leads with ids in [low, high], in id order.

    `reused` is what the draft reuses of the stored score: the stored score plus, for each
    live rule whose count in the draft is not 1, (count - 1) × its stored contribution (so
    -1 × a changed rule's); None: nothing is reused.
    """
    if fast is None:
        fast = connection.vendor == "postgresql"
    if fast:
        return _base_sql(low=low, high=high, adjust=adjust, names=columns)
    return _base_orm(low=low, high=high, adjust=adjust, names=columns)


def _base_sql(
    *, low: int, high: int, adjust: Mapping[int, int] | None, names: Sequence[str]
) -> list[BaseRow]:
    lead, detail = Lead._meta.db_table, LeadScore._meta.db_table
    columns = ["l.id", "d.rules_version", "COALESCE(d.score, 0)", "COALESCE(d.fit, 0)"]
    # The range said on both sides: PostgreSQL does not carry a range across a join, and
    # without it a compact score table was read whole for every range (a hash join over a
    # sequential scan, 60 ms against 8 ms per 5,000 leads).
    joins = [f"LEFT JOIN {detail} d ON d.lead_id = l.id AND d.lead_id BETWEEN %s AND %s"]
    params: list[Any] = [low, high]
    if adjust and len(adjust) <= _FOUND_MAX:
        # Only the few rules a draft changed are read from the JSON breakdown (exact: the
        # numbers are the JSON text), each found by a path query (a rule is in a breakdown
        # at most once); the rest is the stored score.
        found, total, fit = [], ["d.score"], ["d.fit"]
        for index, rule_id in enumerate(sorted(adjust)):
            item = f"p.i{index}"
            found.append(
                f"jsonb_path_query_first(d.breakdown, '$[*] ? (@.rule_id == $id)', %s) AS i{index}"
            )
            params.append(orjson.dumps({"id": rule_id}).decode())
            points = f"COALESCE(({item}->>'points')::numeric, 0) * {int(adjust[rule_id])}"
            total.append(points)
            fit.append(f"CASE WHEN {item}->>'kind' = 'fit' THEN {points} ELSE 0 END")
        columns += [" + ".join(total), " + ".join(fit)]
        joins.append(f"LEFT JOIN LATERAL (SELECT {', '.join(found)}) p ON TRUE")
    elif adjust:
        # Many changed rules: the breakdown's items, each matched with its count
        columns += ["d.score + COALESCE(r.total, 0)", "d.fit + COALESCE(r.fit, 0)"]
        joins.append(
            "LEFT JOIN LATERAL (SELECT SUM((e->>'points')::numeric * m.times) AS total, "
            "SUM(CASE WHEN e->>'kind' = 'fit' THEN (e->>'points')::numeric * m.times "
            "ELSE 0 END) AS fit FROM jsonb_array_elements(d.breakdown) e "
            "JOIN unnest(%s::bigint[], %s::int[]) AS m(rule_id, times) "
            "ON m.rule_id = (e->>'rule_id')::bigint) r ON TRUE"
        )
        ids = sorted(adjust)
        params += [ids, [adjust[i] for i in ids]]
    # adjust == {}: every live rule reused once, so what is reused is the stored score (the
    # same numbers: not read and converted twice). A lead without a score row is stale and
    # evaluated in full (`_range_simulate`), so its zero here is never used.
    reread = bool(adjust)
    columns += ["d.epoch" if name == "score_epoch" else f"l.{name}" for name in names]
    params += [low, high]
    sql = (
        f"SELECT {', '.join(columns)} FROM {lead} l {' '.join(joins)} "  # noqa: S608
        "WHERE l.id BETWEEN %s AND %s ORDER BY l.id"
    )
    rows: list[BaseRow] = []
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for row in cursor.fetchall():
            lead_id, version, stored, stored_fit, *rest = row
            reused = reused_fit = _ZERO
            if reread:
                reused, reused_fit, *rest = rest
            elif adjust is not None:
                reused, reused_fit = stored, stored_fit
            data = dict(zip(names, rest, strict=True))
            if "traits" in data:
                data["traits"] = _traits(data["traits"])
            rows.append(BaseRow(lead_id, version, reused, reused_fit, data, stored, stored_fit))
    return rows


def _adjusted(
    score: Decimal, fit: Decimal, breakdown: Any, adjust: Mapping[int, int]
) -> tuple[Decimal, Decimal]:
    for item in breakdown or ():
        times = adjust.get(item.get("rule_id"))
        if times:
            points = Decimal(str(item["points"])) * times
            score += points
            fit += points if item.get("kind") == "fit" else 0
    return score, fit


def _base_orm(
    *, low: int, high: int, adjust: Mapping[int, int] | None, names: Sequence[str]
) -> list[BaseRow]:
    fields = ["id", "score", "fit", *names]
    leads = list(
        _with_score(Lead.objects.filter(pk__gte=low, pk__lte=high)).order_by("pk").values(*fields)
    )
    details = {
        lead_id: (version, breakdown)
        for lead_id, version, breakdown in LeadScore.objects.filter(
            lead_id__in=[x["id"] for x in leads]
        ).values_list("lead_id", "rules_version", "breakdown")
    }
    rows = []
    for item in leads:
        version, breakdown = details.get(item["id"], (None, None))
        total = fit = _ZERO
        if adjust is not None:
            total, fit = _adjusted(item["score"], item["fit"], breakdown, adjust)
        data = {name: item[name] for name in names}
        stored, stored_fit = item["score"] or _ZERO, item["fit"] or _ZERO
        rows.append(BaseRow(item["id"], version, total, fit, data, stored, stored_fit))
    return rows


def lead_rows(ids: Sequence[int]) -> list[BaseRow]:
    """These leads with their facts (for full evaluation), in id order."""
    rows = _with_score(Lead.objects.filter(pk__in=list(ids))).order_by("pk")
    return [
        BaseRow(item["id"], data={name: item[name] for name in FACT_COLUMNS})
        for item in rows.values("id", *FACT_COLUMNS)
    ]


def _with_score(leads: QuerySet[Lead]) -> QuerySet[Lead]:
    """Leads with scoring's columns beside the profile: score, fit and the score epoch."""
    return leads.annotate(
        score=F("scoring__score"), fit=F("scoring__fit"), score_epoch=F("scoring__epoch")
    )
