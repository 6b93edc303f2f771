"""Console reads: the lead list with its allow-listed filters and ordering, across the core's
profile, scoring's score and handoff's stage (`LeadView`)."""

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

from django.db.models import Q, QuerySet

from handoff.lifecycle import Stage
from handoff.models import LeadView
from mqlapp.leads.errors import InvalidInput
from mqlapp.leads.models import User

# Public names a list may be ordered by, and where each lives.
LEAD_ORDERING = {
    "score": "scoring__score",
    "engagement": "scoring__engagement",
    "fit": "scoring__fit",
    "mql_at": "lifecycle__mql_at",
    "last_activity_at": "last_activity_at",
    "created_at": "created_at",
    "email": "email",
    "company": "company",
    "last_name": "last_name",
}
ORDERING_NAMES = sorted(f"{sign}{name}" for name in LEAD_ORDERING for sign in ("", "-"))


def _number(params: Mapping[str, str], name: str) -> Decimal | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    try:
        return Decimal(value)
    except InvalidOperation as exc:
        raise InvalidInput(f"{name} must be a number", fields={name: [value]}) from exc


def leads_list(*, user: User, params: Mapping[str, str]) -> QuerySet[LeadView]:
    rows = LeadView.objects.all()
    stage = params.get("stage")
    if stage:
        stages = stage.split(",")
        unknown = [s for s in stages if s not in Stage.values]
        if unknown:
            raise InvalidInput(f"unknown stage {unknown[0]!r}", fields={"stage": unknown})
        rows = rows.filter(lifecycle__stage__in=stages)
    owner = params.get("owner")
    if owner:
        if owner == "me":
            rows = rows.filter(lifecycle__owner=user)
        elif owner == "none":
            rows = rows.filter(lifecycle__owner__isnull=True)
        elif owner.isdigit():
            rows = rows.filter(lifecycle__owner_id=int(owner))
        else:
            raise InvalidInput("owner must be a user id, 'me' or 'none'", fields={"owner": [owner]})
    source = params.get("source")
    if source:
        rows = (
            rows.filter(source_id=int(source))
            if source.isdigit()
            else rows.filter(source__name=source)
        )
    low, high = _number(params, "min_score"), _number(params, "max_score")
    if low is not None:
        rows = rows.filter(scoring__score__gte=low)
    if high is not None:
        rows = rows.filter(scoring__score__lte=high)
    search = (params.get("search") or "").strip()
    if search:
        rows = rows.filter(
            Q(email__icontains=search)
            | Q(first_name__icontains=search)
            | Q(last_name__icontains=search)
            | Q(company__icontains=search)
        )
    ordering = params.get("ordering") or "-score"
    fields = [f.strip() for f in ordering.split(",") if f.strip()]
    bad = [f for f in fields if f.removeprefix("-") not in LEAD_ORDERING]
    if bad:
        raise InvalidInput(
            f"cannot order by {bad[0]!r}; use one of {', '.join(ORDERING_NAMES)}",
            fields={"ordering": bad},
        )
    lookups = [f[: len(f) - len(f.lstrip("-"))] + LEAD_ORDERING[f.lstrip("-")] for f in fields]
    return rows.order_by(*lookups, "-id")
