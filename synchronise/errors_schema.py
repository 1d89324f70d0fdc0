"""The API's error shape in the OpenAPI schema: an ``Error`` component, the answer of every
operation's error statuses (a drf-spectacular post-processing hook; docs/errors.md)."""

from __future__ import annotations

from typing import Any

from synchronise.errors import API_PREFIXES

ERROR_REF = {"$ref": "#/components/schemas/Error"}
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Every error of the API (docs/errors.md); other keys are details (`incorrect`, `missing`, "
    "`limit`, `retry_after`…).",
    "properties": {
        "code": {
            "oneOf": [{"type": "integer"}, {"type": "string"}],
            "description": "A number kept from the original product (101 wrong input type, 102 missing input, "
            "104 unknown, 105 not allowed, 108 quota…; ≥ 200 the component's own) or a word "
            "(`invalid`, `not_authenticated`, `forbidden`, `not_found`, `rate_limited`, `payload_too_large`…).",
        },
        "message": {"type": "string", "description": "For people; names the fields that are wrong."},
        "errors": {
            "type": "object",
            "additionalProperties": True,
            "description": "With `invalid`: the messages of each field, `{field: [messages]}`.",
        },
    },
    "required": ["code", "message"],
    "additionalProperties": True,
}


def _error_content(schema: dict[str, Any] | None) -> dict[str, Any]:
    # A response documented with a schema of its own keeps it, as what ``errors`` holds.
    if schema and "$ref" in schema:
        schema = {"allOf": [ERROR_REF, {"type": "object", "properties": {"errors": schema}}]}
    else:
        schema = ERROR_REF
    return {"application/json": {"schema": schema}}


def document_errors(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for path, operations in result.get("paths", {}).items():
        if not path.startswith(API_PREFIXES):
            continue  # the original product's run routes answer as the original did
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for status, response in responses.items():
                if status.isdigit() and int(status) >= 400:
                    schema = response.get("content", {}).get("application/json", {}).get("schema")
                    response["content"] = _error_content(schema)
            responses.setdefault(
                "default",
                {"description": "An error: `{code, message, …}` (docs/errors.md).", "content": _error_content(None)},
            )
    return result
