"""django-filter in the API: an invalid filter answers 400 in the project's error shape."""

from typing import Any

from django.db.models import QuerySet
from django_filters import FilterSet
from django_filters.rest_framework import DjangoFilterBackend

from ..errors import InvalidInput


def filterset_rows(filterset: FilterSet) -> QuerySet[Any]:
    """The filtered rows; an invalid filter raises `InvalidInput` with the first message as
    the error and every bad filter's messages under `fields`."""
    if not filterset.is_valid():
        fields = {name: list(messages) for name, messages in filterset.errors.items()}
        raise InvalidInput(next(iter(fields.values()))[0], fields=fields)
    rows: QuerySet[Any] = filterset.qs
    return rows


class FilterBackend(DjangoFilterBackend):  # type: ignore[misc]  # django-filter is untyped
    """DjangoFilterBackend (and so drf-spectacular's description of the filters), with
    `filterset_rows`'s errors instead of DRF's generic "Invalid input."."""

    def filter_queryset(self, request: Any, queryset: QuerySet[Any], view: Any) -> QuerySet[Any]:
        filterset = self.get_filterset(request, queryset, view)
        return queryset if filterset is None else filterset_rows(filterset)
