"""Driver connections for the hottest single-row reads, without SQLAlchemy's pool between.

Checking a connection out of SQLAlchemy's async pool (greenlet hop, pool events, reset
bookkeeping) costs more than the read itself. This pool hands out the drivers' own
connections: an asyncpg pool on PostgreSQL, one read-only aiosqlite connection on SQLite
(aiosqlite runs its statements one at a time on its thread anyway, and WAL lets it read
while others write).

Under more concurrent requests than connections, the order of waiting decides the tail:
asyncpg's pool hands a released connection to whoever asks next, so a request that arrives
just then overtakes one that was woken for it, and the overtaken one goes back to the end of
the line (seen as p99 stalls of ~200 ms at 64 connections with equal medians). A fair
semaphore in front of the pool serves waiters strictly in arrival order.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.engine import make_url

SQLITE_BUSY_TIMEOUT_MS = 15_000


async def _keep_session(connection: Any) -> None:
    """asyncpg resets a connection on release with a round trip (RESET ALL, UNLISTEN, ...).
    These connections only ever run single read statements outside a transaction and never
    change session state, so there is nothing to reset."""


class DriverReadPool:
    """Open with `DriverReadPool.open(url)`, read with `acquire()`, end with `close()`."""

    def __init__(self, dialect: str, handle: Any, *, size: int = 1) -> None:
        self.dialect = dialect
        self._handle = handle
        # asyncio's Semaphore is first come, first served: a newcomer queues behind waiters,
        # and a release hands the slot to the first waiter rather than to the open market.
        self._turns = asyncio.Semaphore(size)

    @classmethod
    async def open(cls, database_url: str, *, size: int = 10) -> DriverReadPool:
        url = make_url(database_url)
        if url.get_backend_name() == "sqlite":
            import aiosqlite

            connection = await aiosqlite.connect(url.database or ":memory:")
            await connection.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            await connection.execute("PRAGMA query_only = ON")
            return cls("sqlite", connection)
        import asyncpg

        dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        pool = await asyncpg.create_pool(
            dsn,
            min_size=1,
            max_size=size,
            reset=_keep_session,
            server_settings={"default_transaction_read_only": "on"},
        )
        return cls("postgresql", pool, size=size)

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[Any]:
        if self.dialect == "sqlite":
            yield self._handle
            return
        async with self._turns, self._handle.acquire() as connection:
            yield connection

    async def close(self) -> None:
        await self._handle.close()
