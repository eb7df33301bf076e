"""The warehouse queue and its one lake writer, on SQLite (flock) and PostgreSQL (advisory lock).

One test per backend (attaching a lake costs seconds): queued runs reach the lake once each, in
batches; a writer that dies before or after its lake commit leaves the entries for the next
one; one process of a deployment is the writer, and a killed writer's place is taken; a running
drain is woken by an enqueue.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scriptflow.config import Settings
from scriptflow.db.engine import transaction
from scriptflow.insights import warehouse_drain
from scriptflow.insights.extract import RunBatch
from scriptflow.insights.lake import DrainElection, LakeLocation
from scriptflow.insights.repository import QUEUE_CHANNEL, WarehouseQueueRepository
from scriptflow.insights.warehouse import Warehouse
from scriptflow.insights.warehouse_drain import WarehouseDrain, enqueue_insight_mirror, enqueue_runs
from tests.insights.history import Run, Step, batch

REPO = Path(__file__).resolve().parents[2]
PROJECT = str(uuid.uuid4())
SCRIPT = str(uuid.uuid4())

ELECT_AND_HOLD = """
import sys, time
sys.path.insert(0, {repo!r})
from scriptflow.insights.lake import DrainElection, LakeLocation
election = DrainElection(LakeLocation(**{location!r}), "scriptflow_warehouse_queue")
print("taken" if election.try_take() else "refused", flush=True)
time.sleep(600)
"""


class Crash(Exception):
    """A writer dying at that point (the next writer starts from the queue as it was left)."""


def _lake_counts(warehouse: Warehouse) -> dict[str, int]:
    rows = (
        warehouse.connection()
        .cursor()
        .execute(f"SELECT run_id::VARCHAR, count(*) FROM {warehouse.alias}.runs GROUP BY 1")
        .fetchall()
    )
    return {run_id: count for run_id, count in rows}


async def _depth(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    async with transaction(sessionmaker, write=False) as session:
        return await WarehouseQueueRepository(session).depth()


def _hold_in_another_process(location: LakeLocation) -> subprocess.Popen[str]:
    fields = {name: getattr(location, name) for name in ("catalog", "data_path",
              "metadata_schema", "lock_target")}  # fmt: skip
    code = ELECT_AND_HOLD.format(repo=str(REPO), location=fields)
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "taken"
    return holder


async def test_queued_runs_reach_the_lake_once_and_a_dying_writer_loses_none(
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runs = [Run(SCRIPT, PROJECT, steps=[Step("click", "#go")]) for _ in range(5)]
    rows = batch(runs)
    by_id = {run.run_id: index for index, run in enumerate(runs)}

    async def extract(run_ids: Sequence[uuid.UUID]) -> list[RunBatch]:
        # The SQL side of a drain is the queue; the runs' rows come from these hand-made ones.
        picked = [by_id[str(run_id)] for run_id in run_ids]
        return [RunBatch(*(getattr(rows, t).take(picked) for t in ("runs", "tests", "steps")))]

    warehouse = Warehouse.for_settings(settings)
    drain = WarehouseDrain(sessionmaker, warehouse, every_s=0.05, extract=extract, batch_runs=3)
    ids = [uuid.UUID(run.run_id) for run in runs]
    try:
        async with transaction(sessionmaker) as session:
            # The first one twice: the outbox may run a finished run's handlers twice.
            await enqueue_runs(session, [*ids[:4], ids[0]])
        assert await _depth(sessionmaker) == 5

        # Dying before the lake commit: nothing in the lake, every entry still queued.
        real_write = warehouse.write_queued

        def crash_writing(*args: object, **kwargs: object) -> None:
            raise Crash

        monkeypatch.setattr(warehouse, "write_queued", crash_writing)
        with pytest.raises(Crash):
            await drain.drain_once()
        assert await _depth(sessionmaker) == 5
        monkeypatch.setattr(warehouse, "write_queued", real_write)
        assert await asyncio.to_thread(_lake_counts, warehouse) == {}

        # Dying after the lake commit, before its entries went: they stay for the next writer.
        def crash_at(name: str) -> None:
            if name == warehouse_drain.FAULT_AFTER_LAKE_COMMIT:
                raise Crash

        with monkeypatch.context() as patched:
            patched.setattr("scriptflow.runs.outbox.fault_point", crash_at)
            with pytest.raises(Crash):
                await drain.drain_once()
        assert await _depth(sessionmaker) == 5
        first = await asyncio.to_thread(_lake_counts, warehouse)
        assert set(first) == {run.run_id for run in runs[:3]}

        # The next writer drains it all, batch by batch; a run already there is not doubled.
        drained = [await drain.drain_once() for _ in range(3)]
        assert [d.entries for d in drained] == [3, 2, 0]
        assert await _depth(sessionmaker) == 0
        counts = await asyncio.to_thread(_lake_counts, warehouse)
        assert counts == {run.run_id: 1 for run in runs[:4]}

        # One writer per deployment; a killed writer's place is taken.
        location = warehouse.location
        holder = _hold_in_another_process(location)
        try:
            assert not drain.election.try_take()
        finally:
            holder.kill()
            holder.wait()
        deadline = time.monotonic() + 10
        while not drain.election.try_take():  # the server notices the dead session's socket
            assert time.monotonic() < deadline, "the killed writer's lock was never freed"
            await asyncio.sleep(0.1)
        assert not DrainElection(location, QUEUE_CHANNEL).try_take()
        drain.election.release()

        # A project's insights are mirrored in a drain's commit, once the mirror is
        # MIRROR_COALESCE_S old (the refreshes of a burst share one mirror commit).
        monkeypatch.setattr(warehouse_drain, "MIRROR_COALESCE_S", 60.0)
        async with transaction(sessionmaker) as session:
            await enqueue_insight_mirror(session, [uuid.UUID(PROJECT)])
        assert (await drain.drain_once()).entries == 0
        assert await _depth(sessionmaker) == 1
        monkeypatch.setattr(warehouse_drain, "MIRROR_COALESCE_S", 0.0)
        assert (await drain.drain_once()).entries == 1
        assert await _depth(sessionmaker) == 0
        # Runs first: a mirror queued beside runs waits for a drain without them, or until it
        # waited MIRROR_DEFER_S (0 here: at once). Runs already in the lake stay single.
        for defer_s, drains in ((60.0, [1, 1]), (0.0, [2])):
            monkeypatch.setattr(warehouse_drain, "MIRROR_DEFER_S", defer_s)
            async with transaction(sessionmaker) as session:
                await enqueue_insight_mirror(session, [uuid.UUID(PROJECT)])
                await enqueue_runs(session, [ids[0]])
            assert [(await drain.drain_once()).entries for _ in drains] == drains
            assert await _depth(sessionmaker) == 0
        assert await asyncio.to_thread(_lake_counts, warehouse) == counts

        # A running drain is woken by an enqueue (NOTIFY, or this process's event).
        stop = asyncio.Event()
        running = asyncio.create_task(WarehouseDrain(
            sessionmaker, warehouse, every_s=30, extract=extract).run(stop))  # fmt: skip
        try:
            await asyncio.sleep(0.5)  # elected and waiting
            async with transaction(sessionmaker) as session:
                await enqueue_runs(session, [ids[4]])
            deadline = time.monotonic() + 10
            while runs[4].run_id not in await asyncio.to_thread(_lake_counts, warehouse):
                assert time.monotonic() < deadline, "an enqueue did not wake the drain"
                await asyncio.sleep(0.05)
        finally:
            stop.set()
            warehouse_drain._queued.set()
            await asyncio.wait_for(running, timeout=10)
        assert await _depth(sessionmaker) == 0
    finally:
        warehouse.close()
