"""The run handlers' warm-up: once per process, finding and writing nothing, never failing."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scriptflow.insights import warm_up
from scriptflow.insights.models import AIInsight
from scriptflow.runs.models import TestRun
from tests.factories import create_script, signup

BRITTLE = "def test_home(page):\n    page.goto('/')\n    page.wait_for_timeout(500)\n"


@pytest.fixture
def fresh_process(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """As if this process had not warmed up yet."""
    monkeypatch.setattr(warm_up, "_warmed", None)
    yield


async def _count(sessionmaker: async_sessionmaker[AsyncSession], model: type) -> int:
    async with sessionmaker() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def test_the_warm_up_finds_nothing_and_writes_nothing(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    # A script the rules engine would flag, with no runs: the warm-up must not touch it.
    account = await signup(client)
    await create_script(client, account, content=BRITTLE)
    before = (await _count(sessionmaker, AIInsight), await _count(sessionmaker, TestRun))
    seconds = await warm_up.warm_up(sessionmaker)
    assert seconds > 0
    assert (await _count(sessionmaker, AIInsight), await _count(sessionmaker, TestRun)) == before


async def test_it_starts_once_per_process(
    sessionmaker: async_sessionmaker[AsyncSession], fresh_process: None
) -> None:
    task = warm_up.start_warm_up(sessionmaker)
    assert task is not None
    assert warm_up.start_warm_up(sessionmaker) is None  # a second app in the process
    assert await task > 0


async def test_a_failing_warm_up_is_logged_and_never_raised(
    sessionmaker: async_sessionmaker[AsyncSession],
    fresh_process: None,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(_sessionmaker: object) -> float:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(warm_up, "warm_up", broken)
    task = warm_up.start_warm_up(sessionmaker)
    assert task is not None
    with caplog.at_level(logging.WARNING, logger="scriptflow.insights"):
        assert await task == 0.0
    assert "warm-up failed" in caplog.text


async def test_a_warm_up_under_way_at_shutdown_is_cancelled_and_not_started_again(
    sessionmaker: async_sessionmaker[AsyncSession],
    fresh_process: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started = asyncio.Event()

    async def slow(_sessionmaker: object) -> float:
        started.set()
        await asyncio.Event().wait()  # still warming when the app stops
        return 1.0

    monkeypatch.setattr(warm_up, "warm_up", slow)
    task = warm_up.start_warm_up(sessionmaker)
    assert task is not None
    await started.wait()
    await warm_up.stop_warm_up()
    assert task.cancelled()
    # The next app in this process does not start another (one per app would add up).
    assert warm_up.start_warm_up(sessionmaker) is None
    await warm_up.stop_warm_up()  # stopping again is harmless
