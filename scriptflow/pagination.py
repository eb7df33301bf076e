"""Keyset pagination with opaque cursors (newest first, ties broken by id)."""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, and_, or_

from scriptflow.errors import ValidationFailed

T = TypeVar("T")
MAX_LIMIT = 200
DEFAULT_LIMIT = 50


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


def encode_cursor(created_at: datetime, ident: uuid.UUID) -> str:
    raw = json.dumps({"c": created_at.isoformat(), "i": str(ident)}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        return datetime.fromisoformat(data["c"]), uuid.UUID(data["i"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ValidationFailed(
            "Invalid cursor", details={"fields": [{"field": "cursor", "message": "not a cursor"}]}
        ) from exc


def clamp_limit(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_LIMIT
    if limit < 1 or limit > MAX_LIMIT:
        raise ValidationFailed(
            f"limit must be between 1 and {MAX_LIMIT}",
            details={"fields": [{"field": "limit", "message": f"between 1 and {MAX_LIMIT}"}]},
        )
    return limit


def keyset(stmt: Select[Any], model: Any, cursor: str | None, limit: int) -> Select[Any]:
    """Order newest first and start after `cursor`; fetches one extra row to detect a next page."""
    if cursor:
        created_at, ident = decode_cursor(cursor)
        stmt = stmt.where(
            or_(
                model.created_at < created_at,
                and_(model.created_at == created_at, model.id < ident),
            )
        )
    return stmt.order_by(model.created_at.desc(), model.id.desc()).limit(limit + 1)


def page_of(rows: list[Any], limit: int) -> Page[Any]:
    """Cut the extra row fetched by `keyset` and turn it into a cursor."""
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        return Page(rows, encode_cursor(last.created_at, last.id))
    return Page(rows, None)
