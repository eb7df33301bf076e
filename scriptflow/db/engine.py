"""Engine and session factory for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from scriptflow import events

SQLITE_BUSY_TIMEOUT_MS = 15_000


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine; SQLite gets WAL, a busy timeout and foreign keys on every connection."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # Each aiosqlite connection is a thread; a small fixed pool avoids churning overflow
        # connections (thread + pragmas each) under load, and SQLite serialises writes anyway.
        kwargs.setdefault("pool_size", 5)
        kwargs.setdefault("max_overflow", 0)
        kwargs.setdefault("pool_timeout", 60)
        # Connection.close() already rolls back an open transaction; the pool's own reset
        # would cost one more round trip to the connection's thread on every checkin.
        kwargs.setdefault("pool_reset_on_return", None)
        engine = create_async_engine(
            url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **kwargs
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        # pysqlite's own transaction handling defers BEGIN; we emit it ourselves so a
        # read-then-write transaction takes the write lock up front instead of deadlocking.
        event.listen(engine.sync_engine, "begin", _sqlite_begin_immediate_if_asked)
        return engine
    # No pre-ping: it costs a round trip per checkout; dead connections are invalidated on
    # error and recycled by age instead.
    kwargs.setdefault("pool_size", 20)
    kwargs.setdefault("max_overflow", 20)
    kwargs.setdefault("pool_recycle", 1800)
    return create_async_engine(url, **kwargs)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _sqlite_begin_immediate_if_asked(conn: Any) -> None:
    mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {mode}")


def is_sqlite(engine_or_session: AsyncEngine | AsyncSession) -> bool:
    bind = (
        engine_or_session.bind if isinstance(engine_or_session, AsyncSession) else engine_or_session
    )
    return bind is not None and bind.dialect.name == "sqlite"


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


async def begin_for_writing(session: AsyncSession) -> None:
    """On SQLite, take the write lock when the transaction starts.

    A deferred transaction that reads and then writes cannot wait for the lock (its snapshot
    is stale) and fails at once with "database is locked"; an immediate one queues instead.
    """
    if is_sqlite(session):
        await session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})


@asynccontextmanager
async def transaction(
    sessionmaker: async_sessionmaker[AsyncSession], *, write: bool = True
) -> AsyncIterator[AsyncSession]:
    """One unit of work: commit on success, roll back on any error.

    Events the use cases recorded (`scriptflow.events.record`) are dispatched after the commit,
    and dropped on a rollback.
    """
    async with sessionmaker() as session:
        try:
            if write:
                await begin_for_writing(session)
            yield session
            await session.commit()
        except BaseException:
            events.discard_pending(session)
            await session.rollback()
            raise
        await events.dispatch_pending(session)


@asynccontextmanager
async def driver_connection(engine: AsyncEngine) -> AsyncIterator[Any]:
    """The pooled driver connection itself (asyncpg or aiosqlite), for hot single-row reads.

    SQLAlchemy's statement and result machinery costs several times the query itself on
    the hottest read paths; repositories that use this speak the driver's own dialect.
    """
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        yield raw.driver_connection
