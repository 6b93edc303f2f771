"""SPEC §6 privacy (APPI, GDPR): the export of everything held on a person, composed from the
core's, scoring's and handoff's parts; erasure is the core's (`mqlapp.leads.privacy`)."""

from typing import Any

from handoff.selectors import lead_sales_data
from mqlapp.leads.errors import NotFound
from mqlapp.leads.models import Lead
from mqlapp.leads.privacy import lead_own_data
from scoring.selectors import lead_score_data


def lead_personal_data(lead_id: int) -> dict[str, Any]:
    """Everything held on the person behind lead `lead_id`, as plain JSON values."""
    lead = Lead.objects.select_related("source").filter(pk=lead_id).first()
    if lead is None:
        raise NotFound("No such lead.")
    own = lead_own_data(lead)
    score = lead_score_data(lead.pk)
    sales = lead_sales_data(lead.pk)
    own["lead"].update(sales.pop("lead"), **score.pop("lead"))
    return {**own, **score, **sales}
