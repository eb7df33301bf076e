"""The base every repository builds on: the one place statements meet a session.

Services build or refine statements (``repository.for_member(...)``, ``.where(...)``) and hand
them back; they never execute them. `paginate` is the only keyset pagination: newest first by
``(created_at, id)``, starting after an opaque cursor.
"""

from __future__ import annotations

from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy import Select, and_, or_
from sqlalchemy.ext.asyncio import AsyncSession

from scriptflow.pagination import Page, clamp_limit, decode_cursor, encode_cursor

M = TypeVar("M")


class Repository(Generic[M]):
    """SQL for one model; subclasses add the statements of their domain."""

    model: ClassVar[type[Any]]

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, ident: Any) -> M | None:
        """The row with this primary key, or None."""
        row: M | None = await self.session.get(self.model, ident)
        return row

    async def get_one(self, ident: Any) -> M:
        """The row with this primary key; it must exist."""
        row: M = await self.session.get_one(self.model, ident)
        return row

    async def paginate(
        self, stmt: Select[Any], *, cursor: str | None, limit: int | None
    ) -> Page[M]:
        """One page of `stmt`'s rows, newest first, after `cursor`; the next page's cursor."""
        size = clamp_limit(limit)
        model = self.model
        if cursor:
            created_at, ident = decode_cursor(cursor)
            stmt = stmt.where(
                or_(
                    model.created_at < created_at,
                    and_(model.created_at == created_at, model.id < ident),
                )
            )
        # One extra row tells whether there is a next page.
        stmt = stmt.order_by(model.created_at.desc(), model.id.desc()).limit(size + 1)
        rows: list[M] = list((await self.session.execute(stmt)).scalars())
        if len(rows) > size:
            rows = rows[:size]
            return Page(rows, encode_cursor(rows[-1].created_at, rows[-1].id))  # type: ignore[attr-defined]
        return Page(rows, None)

    async def refresh(self, row: object) -> None:
        """Read a row again (another unit of work may have changed it)."""
        await self.session.refresh(row)

    async def delete(self, row: object) -> None:
        """Delete a row of this repository's domain now."""
        await self.session.delete(row)
        await self.session.flush()
