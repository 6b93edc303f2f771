"""Test data through the owners' own code: a lead is created by the core (so scoring and
handoff create their rows through the core's hooks), then its score and lifecycle are set on
the rows those apps own. `lead_make(email=..., score=50, stage="mql", owner=rep)`."""

from typing import Any

import factory

from handoff.models import LeadLifecycle, LeadView
from mqlapp.leads import hooks
from mqlapp.leads.models import Lead
from scoring.models import LeadScore

SCORE_FIELDS = {"score": "score", "engagement": "engagement", "fit": "fit", "score_epoch": "epoch"}
LIFECYCLE_FIELDS = ("stage", "owner", "owner_id", "cycle", "mql_at", "sla_due_at", "reapproach_on")


class LeadFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lead

    email = factory.Sequence(lambda n: f"lead{n}@example.co.jp")

    @classmethod
    def _create(cls, model_class: Any, *args: Any, **kwargs: Any) -> LeadView:
        score = {SCORE_FIELDS[k]: kwargs.pop(k) for k in list(kwargs) if k in SCORE_FIELDS}
        life = {k: kwargs.pop(k) for k in list(kwargs) if k in LIFECYCLE_FIELDS}
        lead = model_class.objects.create(*args, **kwargs)
        hooks.leads_created([lead.pk])
        if score:
            LeadScore.objects.filter(lead_id=lead.pk).update(**score)
        if life:
            LeadLifecycle.objects.filter(lead_id=lead.pk).update(**life)
        return LeadView.objects.get(pk=lead.pk)


def lead_make(**fields: Any) -> LeadView:
    return LeadFactory(**fields)  # type: ignore[no-any-return]


def lifecycle_set(lead_id: int, **fields: Any) -> None:
    LeadLifecycle.objects.filter(lead_id=lead_id).update(**fields)


def score_set(lead_id: int, **fields: Any) -> None:
    LeadScore.objects.filter(lead_id=lead_id).update(
        **{SCORE_FIELDS.get(k, k): v for k, v in fields.items()}
    )
