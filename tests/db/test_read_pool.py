"""The hot-read pool serves waiting requests in the order they came."""

from __future__ import annotations

import asyncio
import itertools
from contextlib import AsyncExitStack

import pytest

from scriptflow.db.read_pool import DriverReadPool

SIZE = 3
CLIENTS = 24
READS_EACH = 20


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_under_contention_connections_go_to_requests_in_arrival_order(db_url: str) -> None:
    # Closed-loop clients, as a load generator's keep-alive connections are, with a few
    # turns of the event loop around each read (parsing, auth, serialising). A pool that
    # hands a released connection to whichever task asks next lets a request that is already
    # running overtake ones that were waiting: the p99 stalls of the hot read at 64 clients.
    pool = await DriverReadPool.open(db_url, size=SIZE)
    async with AsyncExitStack() as warm:  # every connection open before the clock starts
        for _ in range(SIZE):
            await warm.enter_async_context(pool.acquire())
    tickets = itertools.count()
    granted: list[int] = []

    async def client() -> None:
        for _ in range(READS_EACH):
            await asyncio.sleep(0)
            ticket = next(tickets)
            async with pool.acquire() as connection:
                granted.append(ticket)
                await connection.fetchval("SELECT 1")
            await asyncio.sleep(0)

    try:
        await asyncio.gather(*(client() for _ in range(CLIENTS)))
    finally:
        await pool.close()
    assert len(granted) == CLIENTS * READS_EACH
    overtaken = sum(1 for a, b in itertools.pairwise(granted) if b < a)
    assert overtaken == 0, f"{overtaken} of {len(granted)} reads went before an earlier one"
