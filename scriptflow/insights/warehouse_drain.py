"""The deployment's one lake writer: drains the warehouse queue into DuckLake in batches.

A finished run's append is an INSERT into the warehouse queue of the SQL database (milliseconds,
durable, in the source of truth). One process of the deployment is elected the lake writer
(``lake.DrainElection``: a PostgreSQL advisory lock, or an ``flock`` on the embedded default);
every API and worker process runs a drain task, and the ones that are not the writer try again
every few seconds, so a writer that dies is replaced. The writer takes up to ``BATCH_RUNS``
entries, reads their runs from the SQL database, appends them in ONE DuckLake transaction and
deletes the entries after that commit. Killed anywhere in between, the entries stay for the next
writer, which skips the runs already in the lake: nothing is lost or doubled.

With four writers each committing to DuckLake themselves, commits on the PostgreSQL catalog
collided and retried (p95 4.9 s per append); one writer commits once per batch instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import pyarrow as pa
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scriptflow.config import Settings, sync_database_url
from scriptflow.db.base import utcnow
from scriptflow.db.engine import transaction
from scriptflow.insights.extract import RunBatch, extract_runs
from scriptflow.insights.lake import DrainElection
from scriptflow.insights.repository import QUEUE_CHANNEL, WarehouseQueueRepository
from scriptflow.insights.warehouse import Warehouse, concat_batches
from scriptflow.insights.warehouse_sync import insights_table, warehouse_for
from scriptflow.runs import outbox

log = logging.getLogger("scriptflow.insights")

# Runs per lake commit: a commit costs about the same dozen catalog statements whatever its size.
BATCH_RUNS = 500
# How long an insight mirror waits behind queued runs at most (the dashboard's surfaces read the
# runs; only notebooks read the mirror), before it goes into a commit with them.
MIRROR_DEFER_S = 5.0
# How old a mirror must be before a drain without runs writes it (the refreshes after a burst
# of runs come seconds apart: in the scale-out test two mirror commits of 2.4 s each, 2.5 s
# apart, while runs queued behind them).
MIRROR_COALESCE_S = 2.0
# How often a process that is not the writer tries to become it.
ELECT_EVERY_S = 2.0
# How soon a drain waiting for work notices it is asked to stop.
STOP_CHECK_S = 0.5
# Set in a drain writer's environment by tests only: it SIGKILLs itself after the lake commit,
# before the entries are deleted.
FAULT_AFTER_LAKE_COMMIT = "after-lake-commit"

Extract = Callable[[Sequence[uuid.UUID]], Awaitable[list[RunBatch]]]

# Set by this process's enqueue: wakes a drain writer of this process at once (the embedded
# default has no NOTIFY).
_queued = threading.Event()


async def enqueue_runs(session: AsyncSession, run_ids: Sequence[uuid.UUID]) -> None:
    """A finished run's warehouse append: queue it in the caller's transaction."""
    await WarehouseQueueRepository(session).enqueue(run_ids=run_ids)
    _wake_at_commit(session)


async def enqueue_insight_mirror(session: AsyncSession, project_ids: Sequence[uuid.UUID]) -> None:
    """Queue a mirror of these projects' insights into the warehouse (written with the runs
    of the same drain, in its one commit: no lake commit of its own)."""
    await WarehouseQueueRepository(session).enqueue(project_ids=project_ids)
    _wake_at_commit(session)


def _wake_at_commit(session: AsyncSession) -> None:
    """Wake this process's drain once the entries are committed: woken before (inside the
    transaction), it read the queue without them and slept until its next look."""
    event.listen(session.sync_session, "after_commit", lambda _: _queued.set(), once=True)


@dataclass(frozen=True, slots=True)
class Drained:
    """What one drain did."""

    entries: int
    runs: int
    seconds: float
    laps: str = ""


@dataclass
class Laps:
    """Where one drain's time went (for its log line): seconds per stage, in order."""

    started: float
    waited: timedelta
    stages: list[tuple[str, float]] = field(default_factory=list)

    def lap(self, stage: str) -> None:
        self.stages.append((stage, time.perf_counter()))

    def text(self) -> str:
        parts, last = [], self.started
        for stage, at in self.stages:
            parts.append(f"{stage} {at - last:.3f}")
            last = at
        return f"oldest entry waited {self.waited.total_seconds():.3f} s; " + ", ".join(parts)


class WarehouseDrain:
    """One process's drain task; it writes only while this process is the elected writer."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        warehouse: Warehouse,
        *,
        every_s: float,
        extract: Extract | None = None,
        batch_runs: int = BATCH_RUNS,
        database_url: str | None = None,
    ) -> None:
        """``database_url``: the SQL database's (async) URL, to read queued runs from in a
        thread over a synchronous engine of the drain's own; without it they are read through
        ``sessionmaker``, on the event loop."""
        self.sessionmaker = sessionmaker
        self.warehouse = warehouse
        self.every_s = every_s
        self.batch_runs = batch_runs
        self.extract = extract or self._from_database
        self.election = DrainElection(warehouse.location, QUEUE_CHANNEL)
        self._database_url = database_url
        self._engine: Engine | None = None

    @classmethod
    def for_settings(
        cls, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
    ) -> WarehouseDrain:
        return cls(
            sessionmaker,
            warehouse_for(settings),
            every_s=settings.analytics_drain_every_s,
            database_url=settings.resolved_database_url,
        )

    async def _from_database(self, run_ids: Sequence[uuid.UUID]) -> list[RunBatch]:
        if self._database_url is not None:
            # Off the event loop: run_sync builds the rows on the loop's thread, where the
            # process's requests queue too (7.5 s for one run in the scale-out test at load 20,
            # mostly waiting behind the impact reports being served).
            return await asyncio.to_thread(self._extract_in_thread, list(run_ids))
        async with transaction(self.sessionmaker, write=False) as session:
            return await session.run_sync(
                lambda sync: list(extract_runs(sync, run_ids=list(run_ids)))
            )

    def _extract_in_thread(self, run_ids: list[uuid.UUID]) -> list[RunBatch]:
        with self._connect().connect() as connection:
            return list(extract_runs(connection, run_ids=run_ids))

    async def _warm_extraction(self) -> None:
        """The extraction once, of a run no row has: its first real one took 3.3 s in the
        scale-out test (a later one 0.02-0.4 s). A failure here only leaves it cold."""
        try:
            await asyncio.to_thread(self._extract_in_thread, [uuid.uuid4()])
        except Exception:
            log.warning("warming the drain's extraction failed; its first drain pays for it")

    def _connect(self) -> Engine:
        """The drain's own engine, with one pooled connection open (made on first use)."""
        if self._engine is None:
            if self._database_url is None:
                raise RuntimeError("this drain reads runs through its sessionmaker")
            self._engine = create_engine(
                sync_database_url(self._database_url), pool_size=1, pool_pre_ping=True
            )
            self._engine.connect().close()  # into the pool
        return self._engine

    def close(self) -> None:
        """Let go of the drain's own database connection."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    async def drain_once(self) -> Drained:
        """Write the oldest queued entries in one lake transaction, then delete them."""
        started = time.perf_counter()
        async with transaction(self.sessionmaker, write=False) as session:
            entries = await WarehouseQueueRepository(session).oldest(self.batch_runs)
        if not entries:
            return Drained(0, 0, 0.0)
        now = utcnow()
        laps = Laps(started, waited=now - min(entry[3] for entry in entries))
        laps.lap("queue")
        # Runs first: a mirror waits while runs do (up to MIRROR_DEFER_S), so its delete and
        # insert of the project's insights do not lengthen the commit the runs wait for; and a
        # mirror younger than MIRROR_COALESCE_S waits for the refreshes of the same burst, so
        # they share one mirror commit instead of one each.
        wait_s = MIRROR_DEFER_S if any(e[1] is not None for e in entries) else MIRROR_COALESCE_S
        entries = [
            entry
            for entry in entries
            if entry[1] is not None or now - entry[3] >= timedelta(seconds=wait_s)
        ]
        if not entries:
            return Drained(0, 0, 0.0)
        # Once each, in order: a run queued twice is appended once, a project mirrored once.
        run_ids = list(dict.fromkeys(run for _, run, _, _ in entries if run is not None))
        projects = list(dict.fromkeys(p for _, _, p, _ in entries if p is not None))
        batches = await self.extract(run_ids) if run_ids else []
        laps.lap("extract")
        insights: pa.Table | None = None
        mirrored: list[str] = []
        if projects:
            # Read after the runs: the insights are at least as new as the runs of this batch.
            async with transaction(self.sessionmaker, write=False) as session:
                insights, mirrored = await insights_table(session, projects)
            laps.lap("insights")
        batch = concat_batches(batches) if batches else None
        await asyncio.to_thread(self.warehouse.write_queued, batch, insights, mirrored)
        laps.lap(f"lake ({self.warehouse.last_write})")
        outbox.fault_point(FAULT_AFTER_LAKE_COMMIT)
        async with transaction(self.sessionmaker) as session:
            await WarehouseQueueRepository(session).remove([entry[0] for entry in entries])
        laps.lap("remove")
        return Drained(len(entries), len(run_ids), time.perf_counter() - started, laps.text())

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop``: be the writer when no other process is, and drain while it."""
        try:
            while not stop.is_set():
                if not self.election.held:
                    if not await asyncio.to_thread(self.election.try_take):
                        await _sleep_or(stop, ELECT_EVERY_S)
                        continue
                    # Attach now (seconds on a loaded machine), not when the first run waits;
                    # likewise the drain's own database connection.
                    await asyncio.to_thread(self.warehouse.connection)
                    if self._database_url is not None:
                        await asyncio.to_thread(self._connect)
                        await self._warm_extraction()
                try:
                    done = await self.drain_once()
                except Exception:
                    log.exception("warehouse drain failed; its entries wait for the next one")
                    await _sleep_or(stop, self.every_s)
                    continue
                if done.entries:
                    log.info(
                        "drained %d run(s) into the warehouse in %.3f s (%s)",
                        done.runs,
                        done.seconds,
                        done.laps,
                    )
                if done.entries < self.batch_runs:  # a full batch: more wait, go on at once
                    await self._wait(stop)
        finally:
            self.election.release()
            self.close()

    async def _wait(self, stop: asyncio.Event) -> None:
        """Until a run is queued, ``every_s`` passed or ``stop``, whichever comes first."""
        deadline = time.monotonic() + self.every_s
        while not stop.is_set() and self.election.held:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            # In slices, so that a stop is noticed within one (the wait blocks a thread).
            if await asyncio.to_thread(self.election.wait, min(left, STOP_CHECK_S), _queued):
                return


async def _sleep_or(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


@dataclass
class DrainTask:
    """A running drain: its task and the event that stops it."""

    task: asyncio.Task[None]
    stop: asyncio.Event

    async def close(self) -> None:
        self.stop.set()
        _queued.set()  # an embedded writer waiting on it returns at once
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(self.task, timeout=10 + 2 * ELECT_EVERY_S)


def start_drain(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> DrainTask:
    """This process's drain task on the running loop (API and worker processes)."""
    stop = asyncio.Event()
    drain = WarehouseDrain.for_settings(sessionmaker, settings)
    return DrainTask(asyncio.create_task(drain.run(stop), name="warehouse-drain"), stop)
