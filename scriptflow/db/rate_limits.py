"""The SQL of the shared rate limits: one counter row per limit, key and minute."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from scriptflow.db.base import Base

# Declared for the schema's one description (migrations are checked against the metadata);
# the counting itself is the plain SQL below.
RATE_LIMIT_COUNTERS = sa.Table(
    "rate_limit_counters",
    Base.metadata,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("key", sa.String(512), primary_key=True),
    sa.Column("window_start", sa.BigInteger(), primary_key=True, index=True),
    sa.Column("count", sa.Integer(), nullable=False),
)

# The upsert is atomic per row: concurrent API processes each get their own count back.
_BUMP = text(
    """
    INSERT INTO rate_limit_counters (name, key, window_start, count)
    VALUES (:name, :key, :window, 1)
    ON CONFLICT (name, key, window_start)
    DO UPDATE SET count = rate_limit_counters.count + 1
    RETURNING count,
        (SELECT count FROM rate_limit_counters
         WHERE name = :name AND key = :key AND window_start = :window - 60)
    """
)
_UNDO = text(
    "UPDATE rate_limit_counters SET count = count - 1 "
    "WHERE name = :name AND key = :key AND window_start = :window"
)
_PRUNE = text("DELETE FROM rate_limit_counters WHERE window_start < :before")


async def count_event(
    engine: AsyncEngine,
    name: str,
    key: str,
    window: int,
    *,
    limit: Callable[[int, int], bool],
    prune_before: int | None = None,
) -> bool:
    """Count one event in ``window``; False (and not counted) when ``limit(current, previous)``
    refuses it. ``prune_before`` also drops counters of windows older than that."""
    params = {"name": name, "key": key, "window": window}
    async with engine.begin() as connection:
        current, previous = (await connection.execute(_BUMP, params)).one()
        if not limit(current, previous or 0):
            await connection.execute(_UNDO, params)
            return False
        if prune_before is not None:
            await connection.execute(_PRUNE, {"before": prune_before})
    return True
