"""The lead list's filters and ordering (SPEC §6), allow-listed, across the core's profile,
scoring's score and handoff's stage (`LeadView`): one FilterSet for the API, the CSV export
and the leads page."""

from typing import Any

import django_filters
from django.core.validators import RegexValidator
from django.db.models import Q, QuerySet

from handoff.lifecycle import Stage
from handoff.models import LeadView

# Public names a list may be ordered by, and where each lives.
LEAD_ORDERING = {
    "scoring__score": "score",
    "scoring__engagement": "engagement",
    "scoring__fit": "fit",
    "lifecycle__mql_at": "mql_at",
    "last_activity_at": "last_activity_at",
    "created_at": "created_at",
    "email": "email",
    "company": "company",
    "last_name": "last_name",
}
ORDERING_NAMES = sorted(f"{sign}{name}" for name in LEAD_ORDERING.values() for sign in ("", "-"))
DEFAULT_ORDERING = "-score"


# django-filter ships no type information: its classes are Any to mypy.
class _StageIn(django_filters.BaseInFilter, django_filters.ChoiceFilter):  # type: ignore[misc]
    """One stage, or several separated by commas."""


class _TrimmedChoice(django_filters.fields.ChoiceField):  # type: ignore[misc]
    def to_python(self, value: Any) -> str:
        return str(super().to_python(value)).strip()


class _Ordering(django_filters.OrderingFilter):  # type: ignore[misc]
    """Allow-listed ordering, `-score` when none is given; ties in a stable order (newest)."""

    field_class = _TrimmedChoice

    def filter(self, qs: QuerySet[Any], value: list[str] | None) -> QuerySet[Any]:
        names = [name for name in value or () if name] or [DEFAULT_ORDERING]
        return qs.order_by(*(self.get_ordering_value(name) for name in names), "-id")


def _number_must_be(name: str) -> dict[str, str]:
    return {"invalid": f"{name} must be a number"}


class LeadFilter(django_filters.FilterSet):  # type: ignore[misc]
    stage = _StageIn(
        field_name="lifecycle__stage",
        choices=Stage.choices,
        help_text="a stage, or several separated by commas",
        error_messages={"invalid_choice": "unknown stage %(value)r"},
    )
    owner = django_filters.CharFilter(
        method="filter_owner",
        help_text="a user id, 'me' or 'none'",
        validators=[
            RegexValidator(r"^(\d+|me|none)$", message="owner must be a user id, 'me' or 'none'")
        ],
    )
    source = django_filters.CharFilter(method="filter_source", help_text="a source id or name")
    min_score = django_filters.NumberFilter(
        field_name="scoring__score", lookup_expr="gte", error_messages=_number_must_be("min_score")
    )
    max_score = django_filters.NumberFilter(
        field_name="scoring__score", lookup_expr="lte", error_messages=_number_must_be("max_score")
    )
    search = django_filters.CharFilter(
        method="filter_search", help_text="email, name or company contains"
    )
    ordering = _Ordering(
        fields=LEAD_ORDERING,
        choices=[(name, name) for name in ORDERING_NAMES],
        help_text=f"one or more, separated by commas; {DEFAULT_ORDERING} when none is given",
        error_messages={
            "invalid_choice": f"cannot order by %(value)r; use one of {', '.join(ORDERING_NAMES)}"
        },
    )

    class Meta:
        model = LeadView
        fields: list[str] = []

    def filter_owner(self, rows: QuerySet[LeadView], name: str, value: str) -> QuerySet[LeadView]:
        if value == "me":
            return rows.filter(lifecycle__owner=self.request.user)
        if value == "none":
            return rows.filter(lifecycle__owner__isnull=True)
        return rows.filter(lifecycle__owner_id=int(value))

    def filter_source(self, rows: QuerySet[LeadView], name: str, value: str) -> QuerySet[LeadView]:
        if value.isdigit():
            return rows.filter(source_id=int(value))
        return rows.filter(source__name=value)

    def filter_search(self, rows: QuerySet[LeadView], name: str, value: str) -> QuerySet[LeadView]:
        return rows.filter(
            Q(email__icontains=value)
            | Q(first_name__icontains=value)
            | Q(last_name__icontains=value)
            | Q(company__icontains=value)
        )
