"""The OpenAPI document tells every status an operation can answer, in our error shape.

FastAPI documents 2xx and its own `HTTPValidationError` for 422; our API answers 400, 401,
403, 404, 409, 413, 422, 429 and 503 with `{"error": {"code", "message", "details"}}`, so every
operation declares those here, and the 422 body is ours.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.schemas import ResponseModel


class ErrorBody(ResponseModel):
    code: str = Field(description="Stable, machine-readable: VALIDATION_ERROR, SCRIPT_NOT_FOUND…")
    message: str
    details: dict[str, Any]


class ErrorOut(ResponseModel):
    """Every error the API answers."""

    error: ErrorBody


class FieldErrorOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    field: str
    message: str


class ValidationDetails(BaseModel):
    model_config = ConfigDict(extra="allow")

    fields: list[FieldErrorOut] = []


class ValidationErrorBody(ResponseModel):
    code: str = Field(description="VALIDATION_ERROR, or a more precise one (SCRIPT_SYNTAX_ERROR…)")
    message: str
    details: ValidationDetails


class ValidationErrorOut(ResponseModel):
    """A request the API understood but refuses: `details.fields` names what is wrong."""

    error: ValidationErrorBody


_DESCRIPTIONS = {
    400: "Malformed request (e.g. invalid JSON)",
    401: "Missing, invalid, expired or revoked bearer token",
    403: "Your role in the project is too low",
    404: "No such object, or not yours",
    409: "Conflicting state (stale version, wrong status, duplicate)",
    413: "Body or script content too large",
    422: "Validation failed",
    429: "Rate limited; retry after `Retry-After` seconds",
    503: "A dependency (database, AI provider) is unavailable",
}

_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"schema": {"type": "string"}}},
    429: {"Retry-After": {"schema": {"type": "integer", "minimum": 1}}},
}


def error_responses() -> dict[int | str, dict[str, Any]]:
    """The error statuses every operation documents (FastAPI's `responses=`)."""
    out: dict[int | str, dict[str, Any]] = {}
    for status, description in _DESCRIPTIONS.items():
        entry: dict[str, Any] = {
            "model": ValidationErrorOut if status == 422 else ErrorOut,
            "description": description,
        }
        if status in _HEADERS:
            entry["headers"] = _HEADERS[status]
        out[status] = entry
    return out


ERROR_RESPONSES = error_responses()


def tidy_openapi(schema: dict[str, Any]) -> dict[str, Any]:
    """Our schema as clients should read it.

    FastAPI's HTTPValidationError components go (nothing refers to them), and an optional
    parameter is just optional: `anyOf: [X, null]` would tell clients to send the text "null".
    """
    components = schema.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                parameter["schema"] = _without_null(parameter.get("schema", {}))
    return schema


def state_allowed_models(schema: dict[str, Any], models: list[str]) -> dict[str, Any]:
    """The enhance request's `model` is one of this server's configured models."""
    enhance = schema.get("components", {}).get("schemas", {}).get("EnhanceIn", {})
    model = enhance.get("properties", {}).get("model")
    if model is not None:
        description = model.get("description")
        enhance["properties"]["model"] = {
            "anyOf": [{"type": "string", "enum": list(models)}, {"type": "null"}],
            "description": description or "one of the models this server allows",
        }
    return schema


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    options = schema.get("anyOf")
    if not options:
        return schema
    kept = [option for option in options if option.get("type") != "null"]
    if len(kept) != 1:
        return schema
    rest = {key: value for key, value in schema.items() if key != "anyOf"}
    return {**kept[0], **rest}
