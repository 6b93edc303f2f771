"""The lead list's filters and ordering (SPEC §6), allow-listed, across the core's profile,
scoring's score and handoff's stage (`LeadView`): one FilterSet for the API, the CSV export
and the leads page."""

from collections.abc import Callable
from typing import Any

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet

from handoff.lifecycle import Stage
from handoff.models import LeadView
from mqlapp.leads.errors import InvalidInput
from mqlapp.leads.parsing import id_param, number_param, param_invalid

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


SEARCH_MAX = 200  # the longest text a lead column holds


class _ParamField(forms.Field):
    """A filter's value read by one of the shared parameter readers (mqlapp.leads.parsing),
    so the list, the export and the page refuse what every other endpoint refuses."""

    def __init__(self, *, reader: Callable[..., Any], param: str, **kwargs: Any) -> None:
        self.reader, self.param = reader, param
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> Any:
        try:
            return self.reader(value if value not in (None, "") else None, name=self.param)
        except InvalidInput as exc:
            raise ValidationError(exc.message, code="invalid") from exc


class _NumberParam(django_filters.NumberFilter):  # type: ignore[misc]
    """A decimal number (`number_param`): NaN, Infinity and 1e309 are 400s."""

    field_class = _ParamField

    def __init__(self, *, param: str, **kwargs: Any) -> None:
        super().__init__(reader=number_param, param=param, **kwargs)

    def get_max_validator(self) -> None:
        return None  # number_param bounds it


def _owner(value: str | None, *, name: str) -> str | int | None:
    """A user id, "me" or "none"."""
    if value is None or value.strip() in ("me", "none"):
        return value.strip() if value else None
    try:
        return id_param(value, name=name)
    except InvalidInput:
        raise param_invalid(name, "a user id, 'me' or 'none'") from None


def _source(value: str | None, *, name: str) -> str | int | None:
    """A source id, or a source's name."""
    if value is None:
        return None
    text = value.strip()
    if text[:1].isdigit():
        return id_param(text, name=name)
    if len(text) > SEARCH_MAX or "\x00" in text:
        raise param_invalid(name, f"a source id or a name of at most {SEARCH_MAX} characters")
    return text


def _search(value: str | None, *, name: str) -> str | None:
    if value is not None and (len(value) > SEARCH_MAX or "\x00" in value):
        raise param_invalid(name, f"a text of at most {SEARCH_MAX} characters")
    return value


class _TextParam(django_filters.CharFilter):  # type: ignore[misc]
    field_class = _ParamField


class LeadFilter(django_filters.FilterSet):  # type: ignore[misc]
    stage = _StageIn(
        field_name="lifecycle__stage",
        choices=Stage.choices,
        help_text="a stage, or several separated by commas",
        error_messages={"invalid_choice": "unknown stage %(value)r"},
    )
    owner = _TextParam(
        method="filter_owner", help_text="a user id, 'me' or 'none'", reader=_owner, param="owner"
    )
    source = _TextParam(
        method="filter_source", help_text="a source id or name", reader=_source, param="source"
    )
    min_score = _NumberParam(field_name="scoring__score", lookup_expr="gte", param="min_score")
    max_score = _NumberParam(field_name="scoring__score", lookup_expr="lte", param="max_score")
    search = _TextParam(
        method="filter_search",
        help_text="email, name or company contains",
        reader=_search,
        param="search",
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

    def filter_owner(
        self, rows: QuerySet[LeadView], name: str, value: str | int
    ) -> QuerySet[LeadView]:
        if value == "me":
            return rows.filter(lifecycle__owner=self.request.user)
        if value == "none":
            return rows.filter(lifecycle__owner__isnull=True)
        return rows.filter(lifecycle__owner_id=int(value))

    def filter_source(
        self, rows: QuerySet[LeadView], name: str, value: str | int
    ) -> QuerySet[LeadView]:
        if isinstance(value, int):
            return rows.filter(source_id=value)
        return rows.filter(source__name=value)

    def filter_search(self, rows: QuerySet[LeadView], name: str, value: str) -> QuerySet[LeadView]:
        return rows.filter(
            Q(email__icontains=value)
            | Q(first_name__icontains=value)
            | Q(last_name__icontains=value)
            | Q(company__icontains=value)
        )
