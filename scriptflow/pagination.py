"""Pages and their opaque cursors (newest first, ties broken by id; see db.repository.paginate)."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Generic, TypeVar

from scriptflow.errors import ValidationFailed

T = TypeVar("T")
MAX_LIMIT = 200
DEFAULT_LIMIT = 50


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


# A cursor is "<microseconds since the epoch>.<uuid hex>" of the last row shown. Every string
# of this shape decodes to a moment and an id the database can compare, so a forged cursor is
# just a position, never an error; the digit cap keeps the moment inside datetime's range.
CURSOR_PATTERN = r"^[0-9]{1,17}\.[0-9a-f]{32}$"
_CURSOR = re.compile(CURSOR_PATTERN)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def encode_cursor(created_at: datetime, ident: uuid.UUID) -> str:
    moment = created_at if created_at.tzinfo else created_at.replace(tzinfo=UTC)
    micros = (moment - _EPOCH) // timedelta(microseconds=1)
    return f"{max(micros, 0)}.{ident.hex}"


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    if not _CURSOR.fullmatch(cursor):
        raise ValidationFailed.for_field("cursor", "not a cursor", message="Invalid cursor")
    micros, ident = cursor.split(".")
    return _EPOCH + timedelta(microseconds=int(micros)), uuid.UUID(hex=ident)


def clamp_limit(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_LIMIT
    if limit < 1 or limit > MAX_LIMIT:
        raise ValidationFailed.for_field(
            "limit",
            f"between 1 and {MAX_LIMIT}",
            message=f"limit must be between 1 and {MAX_LIMIT}",
        )
    return limit
