"""POST /api/scoring/simulate/: draft rules and/or a threshold against every lead, no writes.

The view lives in handoff because the backtest reads the stage history (handoff's) and the
defaults come from the MQL policy; the counting itself is scoring's `scores_simulate`.
"""

from decimal import Decimal
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mqlapp.leads.errors import InvalidInput
from mqlapp.leads.roles import MarketerOrAdmin
from scoring.engine.conditions import as_number
from scoring.serializers import SimulateAnswerSerializer, SimulateBodySerializer
from scoring.services import rules_draft_parse

from .simulation import simulation_run

BODY_FIELDS = tuple(SimulateBodySerializer().fields)


def _number(body: dict[str, Any], name: str, *, nullable: bool) -> Decimal | None:
    value = body[name]
    if value is None and nullable:
        return None
    number = None if isinstance(value, bool | str) else as_number(value)
    if number is None:
        expected = "a number or null" if nullable else "a number"
        raise InvalidInput(f"{name} must be {expected}", fields={name: [f"got {value!r}"]})
    return number


class SimulateView(APIView):
    """Marketers and admins (SPEC §2); sales may not simulate."""

    permission_classes = [MarketerOrAdmin]

    @extend_schema(request=SimulateBodySerializer, responses=SimulateAnswerSerializer)
    def post(self, request: Request) -> Response:
        if not isinstance(request.data, dict):
            raise InvalidInput("The body must be a JSON object.")
        body = dict(request.data)
        unknown = sorted(str(key) for key in body if key not in BODY_FIELDS)
        if unknown:
            raise InvalidInput(
                f"unknown fields: {', '.join(unknown)}",
                fields={key: [f"unknown; use {', '.join(BODY_FIELDS)}"] for key in unknown},
            )
        rules = None if body.get("rules") is None else rules_draft_parse(body["rules"])
        options: dict[str, Any] = {}
        if "mql_threshold" in body:
            options["threshold"] = _number(body, "mql_threshold", nullable=False) or Decimal(0)
        if "min_fit" in body:
            options["min_fit"] = _number(body, "min_fit", nullable=True)
        return Response(SimulateAnswerSerializer(simulation_run(rules=rules, **options)).data)
