"""Recorded events reach the event table's handlers after commit, and never after a rollback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from scriptflow.auth.models import User
from scriptflow.config import Settings
from scriptflow.db.engine import create_engine, transaction
from scriptflow.events import HandlerContext, record
from scriptflow.wiring import wired_sessionmaker


@dataclass(frozen=True)
class Happened:
    what: str


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings.resolved_database_url)
    yield engine
    await engine.dispose()


async def test_a_committed_unit_of_work_dispatches_what_it_recorded_after_the_commit(
    engine: AsyncEngine, settings: Settings
) -> None:
    seen: list[tuple[str, bool]] = []

    async def handler(context: HandlerContext, event: Happened) -> None:
        # The handler's own unit of work sees the committed row: the commit came first.
        async with transaction(context.sessionmaker, write=False) as session:
            users = await session.scalar(select(func.count()).select_from(User))
        seen.append((event.what, users == 1))

    sessionmaker = wired_sessionmaker(engine, settings, table={Happened: (handler,)})
    async with transaction(sessionmaker) as session:
        await session.execute(insert(User).values(email="a@example.com", password_hash="x"))
        record(session, Happened("signed up"))
        assert seen == []  # nothing runs inside the unit of work
    assert seen == [("signed up", True)]


async def test_a_rolled_back_unit_of_work_dispatches_nothing(
    engine: AsyncEngine, settings: Settings
) -> None:
    seen: list[Happened] = []

    async def handler(_context: HandlerContext, event: Happened) -> None:
        seen.append(event)

    sessionmaker = wired_sessionmaker(engine, settings, table={Happened: (handler,)})
    with pytest.raises(RuntimeError):
        async with transaction(sessionmaker) as session:
            record(session, Happened("half done"))
            raise RuntimeError("the use case failed")
    assert seen == []


async def test_a_failing_handler_is_logged_and_the_next_one_still_runs(
    engine: AsyncEngine, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[str] = []

    async def broken(_context: HandlerContext, _event: Happened) -> None:
        raise ValueError("boom")

    async def next_one(_context: HandlerContext, event: Happened) -> None:
        seen.append(event.what)

    sessionmaker = wired_sessionmaker(engine, settings, table={Happened: (broken, next_one)})
    async with transaction(sessionmaker) as session:
        record(session, Happened("accepted"))
    assert seen == ["accepted"]
    assert "broken" in caplog.text and "failed" in caplog.text
