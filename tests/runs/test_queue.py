"""The runs table as a queue: claims, leases, fencing and reaping, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scriptflow.db.base import utcnow
from scriptflow.db.engine import transaction
from scriptflow.runs.models import TestRun
from scriptflow.runs.queue import (
    claim_next_run,
    mark_finished,
    reap_abandoned_runs,
    release_claim,
    renew_lease,
)
from tests.factories import signup
from tests.runs.conftest import LOGIN_TEST
from tests.runs.helpers import queue_run

pytestmark = pytest.mark.usefixtures("chromium")


@pytest.fixture
def sm(app: FastAPI) -> async_sessionmaker[AsyncSession]:
    sessionmaker: async_sessionmaker[AsyncSession] = app.state.sessionmaker
    return sessionmaker


async def queued_runs(client: httpx.AsyncClient, n: int) -> list[uuid.UUID]:
    account = await signup(client)
    return [uuid.UUID((await queue_run(client, account, LOGIN_TEST))["id"]) for _ in range(n)]


async def expire_lease(sm: async_sessionmaker[AsyncSession], run_id: uuid.UUID) -> None:
    async with transaction(sm) as session:
        await session.execute(
            update(TestRun)
            .where(TestRun.id == run_id)
            .values(lease_expires_at=utcnow() - timedelta(seconds=1))
        )


async def load(sm: async_sessionmaker[AsyncSession], run_id: uuid.UUID) -> TestRun:
    async with transaction(sm, write=False) as session:
        return await session.get_one(TestRun, run_id)


async def test_claims_take_the_oldest_run_once(
    client: httpx.AsyncClient, sm: async_sessionmaker[AsyncSession]
) -> None:
    first, second = await queued_runs(client, 2)
    a = await claim_next_run(sm, "worker-a", 30)
    b = await claim_next_run(sm, "worker-b", 30)
    assert a is not None and b is not None
    assert (a.run_id, a.attempt, b.run_id) == (first, 1, second)
    assert await claim_next_run(sm, "worker-c", 30) is None
    run = await load(sm, first)
    assert (run.status, run.worker_id) == ("running", "worker-a")
    assert run.lease_expires_at is not None and run.started_at is not None


async def test_finish_is_fenced_by_worker_and_attempt(
    client: httpx.AsyncClient, sm: async_sessionmaker[AsyncSession]
) -> None:
    (run_id,) = await queued_runs(client, 1)
    stale = await claim_next_run(sm, "worker-a", 30)
    assert stale is not None
    await expire_lease(sm, run_id)  # worker-a went silent
    fresh = await claim_next_run(sm, "worker-b", 30)
    assert fresh is not None and fresh.attempt == 2
    assert not (await renew_lease(sm, stale, 30)).still_owner
    async with transaction(sm) as session:
        assert await mark_finished(session, stale, status="passed", error=None, results={}) is None
    async with transaction(sm) as session:
        status = await mark_finished(session, fresh, status="failed", error="x", results={})
    assert status == "failed"
    run = await load(sm, run_id)
    assert (run.status, run.attempt, run.worker_id) == ("failed", 2, "worker-b")


async def test_a_run_out_of_attempts_ends_error_with_the_reason(
    client: httpx.AsyncClient, sm: async_sessionmaker[AsyncSession]
) -> None:
    (run_id,) = await queued_runs(client, 1)
    for attempt in (1, 2, 3):
        claim = await claim_next_run(sm, f"worker-{attempt}", 30)
        assert claim is not None and claim.attempt == attempt
        await expire_lease(sm, run_id)
    assert await claim_next_run(sm, "worker-4", 30) is None
    assert await reap_abandoned_runs(sm) == [run_id]
    run = await load(sm, run_id)
    assert run.status == "error" and run.completed_at is not None
    assert "stopped responding on attempt 3 of 3" in (run.error or "")


async def test_cancel_of_a_run_whose_worker_died_ends_cancelled(
    client: httpx.AsyncClient, sm: async_sessionmaker[AsyncSession]
) -> None:
    account = await signup(client)
    run_id = uuid.UUID((await queue_run(client, account, LOGIN_TEST))["id"])
    assert await claim_next_run(sm, "worker-a", 30) is not None
    r = await client.post(f"/v1/test-runs/{run_id}/cancel", headers=account.headers)
    assert r.status_code == 200
    assert (await load(sm, run_id)).status == "running"  # the worker will see the flag
    await expire_lease(sm, run_id)  # ...but it died
    assert await claim_next_run(sm, "worker-b", 30) is None
    assert await reap_abandoned_runs(sm) == [run_id]
    assert (await load(sm, run_id)).status == "cancelled"


async def test_a_graceful_stop_hands_the_run_back_without_using_an_attempt(
    client: httpx.AsyncClient, sm: async_sessionmaker[AsyncSession]
) -> None:
    (run_id,) = await queued_runs(client, 1)
    claim = await claim_next_run(sm, "worker-a", 30)
    assert claim is not None
    await release_claim(sm, claim)
    run = await load(sm, run_id)
    assert (run.status, run.attempt, run.worker_id) == ("queued", 0, None)
    again = await claim_next_run(sm, "worker-b", 30)
    assert again is not None and again.attempt == 1
