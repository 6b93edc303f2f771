"""GET /api/leads/export.csv: the filtered lead list as CSV for Excel (UTF-8 with BOM)."""

import csv
from collections.abc import Iterator
from typing import Any

from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request

from handoff.models import LeadView
from handoff.serializers import LEAD_FIELDS
from mqlapp.leads.api.filtering import FilterBackend
from mqlapp.leads.roles import MarketerOrAdmin

from .filters import LeadFilter

# The lead shape of the API (one definition), less `traits` (free JSON, not a column).
COLUMNS = tuple(name for name in LEAD_FIELDS if name != "traits")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CHUNK = 2000


def csv_cell(value: Any) -> str:
    """A cell a spreadsheet shows as text: values that would run as a formula get a quote."""
    if value is None:
        return ""
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class _Echo:
    def write(self, value: str) -> str:
        return value


def _in_order(leads: Any) -> Iterator[Any]:
    """The leads in the list's order, CHUNK rows in memory at a time. Not `.iterator()`: the
    response streams outside any transaction, where a server-side cursor cannot live behind a
    transaction pooler (and with those cursors off, it would hold every row; docs/scaling.md)."""
    ids = list(leads.values_list("pk", flat=True))
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        found = {lead.pk: lead for lead in leads.select_related("source").filter(pk__in=chunk)}
        yield from (found[pk] for pk in chunk if pk in found)  # one erased meanwhile is left out


def _rows(leads: Any) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow(COLUMNS)
    for lead in _in_order(leads):
        values = {
            **{name: getattr(lead, name) for name in COLUMNS},
            "source": lead.source.name if lead.source else "",
            "owner": lead.owner.username if lead.owner else "",
        }
        yield writer.writerow([csv_cell(values[name]) for name in COLUMNS])


class LeadExportView(GenericAPIView[LeadView]):
    """Marketers and admins; takes the lead list's filters and ordering."""

    permission_classes = [MarketerOrAdmin]
    queryset = LeadView.objects.all()
    filter_backends = [FilterBackend]
    filterset_class = LeadFilter
    pagination_class = None

    @extend_schema(filters=True, responses={(200, "text/csv"): OpenApiTypes.STR})
    def get(self, request: Request) -> StreamingHttpResponse:
        leads = self.filter_queryset(self.get_queryset())
        response = StreamingHttpResponse(_rows(leads), content_type="text/csv; charset=utf-8")
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        response["Content-Disposition"] = f'attachment; filename="leads-{stamp}.csv"'
        return response
