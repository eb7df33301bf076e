"""Request and response models; requests reject unknown fields and NUL characters.

Bounds live in the types below, so the OpenAPI document states them and clients (and
fuzzers) know what the server accepts: a version fits the database's 32-bit integer column,
a page holds 1..200 items, a cursor has one shape.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from email_validator import EmailNotValidError, validate_email
from fastapi import Query
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
)

from scriptflow.pagination import CURSOR_PATTERN, MAX_LIMIT

# Neither database stores NUL in text (PostgreSQL refuses it, SQLite truncates C strings in
# places), and no script, title or name needs one: every string a client sends matches this.
NO_NUL_PATTERN = r"^[^\x00]*$"

# Integer columns are 32-bit on PostgreSQL; larger numbers can never name a stored row.
MAX_DB_INT = 2**31 - 1

Version = Annotated[int, Field(ge=1, le=MAX_DB_INT)]
Limit = Annotated[int | None, Query(ge=1, le=MAX_LIMIT, description="items per page")]
Cursor = Annotated[
    str | None,
    Query(pattern=CURSOR_PATTERN, description="opaque: the `cursor` of a `Link: rel=next` URL"),
]


def valid_email(value: str) -> str:
    """A syntactically valid address (no DNS lookup); `.test` domains (RFC 6761) are allowed,
    since QA setups use them and we never send mail."""
    try:
        return validate_email(value, check_deliverability=False, test_environment=True).normalized
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from exc


Email = Annotated[
    str,
    AfterValidator(valid_email),
    WithJsonSchema({"type": "string", "format": "email", "maxLength": 254}),
]


def utc_moment(value: datetime) -> datetime:
    """An aware UTC datetime; moments outside datetime's range clamp to its ends.

    `0001-01-01T00:00:00+14:00` is before the year 1 in UTC: no stored row is earlier, so
    "since then" means "since the beginning", not an overflow.
    """
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        offset = value.utcoffset() or timedelta()
        return (
            datetime.min.replace(tzinfo=UTC)
            if offset > timedelta()
            else datetime.max.replace(tzinfo=UTC)
        )


def iso_moment(value: Any) -> Any:
    """A moment is an ISO 8601 string, as its schema says: never a number of seconds (which
    pydantic's lax datetime would otherwise read as a Unix time)."""
    if isinstance(value, int | float) or (
        isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+(\.\d*)?\s*", value)
    ):
        raise ValueError("must be an ISO 8601 date-time, not a number")
    return value


Moment = Annotated[datetime, BeforeValidator(iso_moment), AfterValidator(utc_moment)]


def reject_nul(value: Any) -> Any:
    """The one NUL rule: no string anywhere in a request body (dict keys included) holds one."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("must not contain NUL characters")
    elif isinstance(value, dict):
        for key, item in value.items():
            reject_nul(key)
            reject_nul(item)
    elif isinstance(value, list | tuple):
        for item in value:
            reject_nul(item)
    return value


def _declare_no_nul(schema: dict[str, Any]) -> None:
    """State the NUL rule in the JSON schema of every plain string property."""

    def visit(node: Any) -> None:
        if not isinstance(node, dict):
            return
        if node.get("type") == "string" and not ({"format", "enum"} & node.keys()):
            pattern = node.get("pattern")
            if pattern is None:
                node["pattern"] = NO_NUL_PATTERN
            elif not (pattern.startswith("^") and pattern.endswith("$")):
                # A search pattern (e.g. `\S`, "not blank") says nothing about NUL: state both.
                node.setdefault("allOf", []).append({"pattern": NO_NUL_PATTERN})
        for key in ("anyOf", "oneOf", "allOf"):
            for option in node.get(key, []):
                visit(option)
        visit(node.get("items"))
        visit(node.get("additionalProperties"))
        if isinstance(node.get("propertyNames"), dict):
            visit(node["propertyNames"])

    for prop in schema.get("properties", {}).values():
        visit(prop)


class RequestModel(BaseModel):
    model_config = ConfigDict(
        extra="forbid", str_strip_whitespace=False, json_schema_extra=_declare_no_nul
    )

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        return reject_nul(value)


class ResponseModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)
