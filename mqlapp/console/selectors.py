"""Console reads: the lead list as the leads page asks for it, filtered and ordered by the one
`LeadFilter` (the API and the CSV export apply it through `FilterBackend`)."""

from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest

from handoff.models import LeadView
from mqlapp.leads.api.filtering import filterset_rows

from .filters import LeadFilter


def leads_list(*, request: HttpRequest, params: Any) -> QuerySet[LeadView]:
    """The leads that `params` ask for; `InvalidInput` names a filter that is not valid."""
    return filterset_rows(LeadFilter(params, queryset=LeadView.objects.all(), request=request))
