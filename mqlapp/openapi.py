"""The API description's error answers: every operation documents the JSON errors it can give
(`mqlapp.leads.errors.exception_handler` shapes them all alike), so a client and a schema
checker know a 400, 401, 403 or 404 is part of the contract, not a surprise."""

from typing import Any

ERROR = {
    "type": "object",
    "description": "An error a person can read: `error` says what, `code` says which kind, "
    "`fields` (on 400) names the fields that are wrong.",
    "properties": {
        "error": {"type": "string"},
        "code": {"type": "string"},
        "fields": {"type": "object", "additionalProperties": True},
    },
    "required": ["error", "code"],
    "additionalProperties": True,
}

_WHY = {
    "400": "The input is not acceptable (the error names the fields).",
    "401": "No credentials, or credentials that are not valid.",
    "403": "Your role may not do this (SPEC §2's permission matrix).",
    "404": "No such object.",
    "405": "The method is not allowed on this path.",
    "409": "The object's state does not allow this (the error names the state).",
    "413": "The upload is larger than the limit (the error names it).",
    "415": "The body's Content-Type is not one this operation reads, or cannot be parsed as it.",
    "429": "Too many requests; try again after `Retry-After` seconds.",
}
_METHODS = ("get", "put", "post", "patch", "delete")


def _error(code: str) -> dict[str, Any]:
    return {
        "description": _WHY[code],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def error_responses(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: add the Error schema and each operation's error
    answers (those it already names, e.g. 409 on queue actions, are kept as they are)."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR
    for path, item in result.get("paths", {}).items():
        for method, operation in item.items():
            if method not in _METHODS:
                continue
            responses = operation.setdefault("responses", {})
            codes = ["400"]
            if {} not in operation.get("security", [{}]):
                codes += ["401", "403"]
            names = {p.get("name") for p in operation.get("parameters", [])}
            if "{" in path or "page" in names:
                codes.append("404")  # no such object, or a page past the last one
            if "requestBody" in operation:
                codes.append("415")  # a body DRF cannot parse as any of the view's media types
            for code in codes + operation.pop("x-errors", []):
                responses.setdefault(code, _error(code))
    return result
