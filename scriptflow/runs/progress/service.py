"""Publish a running run's progress (the worker) and read it back (API, run page)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scriptflow.db.base import utcnow
from scriptflow.db.engine import transaction
from scriptflow.runs.progress.models import RunEvent
from scriptflow.runs.progress.parse import (
    MAX_EVENTS_PER_RUN,
    EventPlacer,
    LiveTest,
    PlacedEvent,
    live_tests,
    parse_line,
    without_seen_starts,
)
from scriptflow.runs.progress.repository import RunEventRepository
from scriptflow.runs.progress.tail import ProgressTail
from scriptflow.runs.service import run_snapshot

log = logging.getLogger("scriptflow.runs")

# How often the worker looks at the file: a page polling once a second sees a step within
# about a second and a half; a quiet run costs one stat a tick and no database write.
PUBLISH_EVERY_S = 0.5
MAX_PAGE = 1000
# The last publish after the run ended (its final lines): bounded so a stuck database never
# holds the run's results back for long.
FINAL_PUBLISH_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class ShardProgress:
    """One shard of a sharded run, as its parent's progress lists it."""

    run_id: uuid.UUID
    shard_index: int
    status: str
    attempt: int
    last_seq: int  # the shard's own cursor: the last seq returned, or the one asked after


@dataclass(frozen=True)
class RunProgress:
    """A run's state and its progress events after a cursor.

    A sharded run has no events of its own: its progress is its shards' events merged (each
    after that shard's cursor, in the order the workers saw them) and the shards' states."""

    run_id: uuid.UUID
    status: str
    attempt: int
    started_at: datetime | None
    completed_at: datetime | None
    events: list[RunEvent]
    shards: tuple[ShardProgress, ...] = ()

    @property
    def last_seq(self) -> int | None:
        return self.events[-1].seq if self.events and not self.shards else None

    def shard_of(self, event: RunEvent) -> int | None:
        return next((s.shard_index for s in self.shards if s.run_id == event.run_id), None)


async def run_progress(
    session: AsyncSession,
    user_id: uuid.UUID,
    run_id: uuid.UUID,
    *,
    after: int = 0,
    limit: int = MAX_PAGE,
    shard_after: Sequence[int] = (),
) -> RunProgress:
    """The run's status and its events numbered above ``after``; NotFound for a stranger.

    For a sharded run, ``shard_after[i]`` is the cursor of shard ``i`` (missing: 0)."""
    snapshot = await run_snapshot(session, user_id, run_id)
    limit = min(max(limit, 1), MAX_PAGE)
    repository = RunEventRepository(session)
    shards = await repository.shards_of(run_id)
    states: list[ShardProgress] = []
    if not shards:
        events = await repository.after(run_id, max(after, 0), limit)
    else:
        events = []
        for shard in shards:
            index = shard.shard_index or 0
            cursor = max(shard_after[index], 0) if index < len(shard_after) else 0
            page = await repository.after(shard.id, cursor, limit)
            events.extend(page)
            last = page[-1].seq if page else cursor
            states.append(ShardProgress(shard.id, index, shard.status, shard.attempt, last))
        index_of = {state.run_id: state.shard_index for state in states}
        events.sort(key=lambda e: (e.created_at, index_of[e.run_id], e.seq))
    return RunProgress(
        snapshot.id,
        snapshot.status,
        snapshot.attempt,
        snapshot.started_at,
        snapshot.completed_at,
        events,
        tuple(states),
    )


def live_view(progress: RunProgress) -> list[LiveTest]:
    """The tests and steps so far: a run's own, or each shard's (labelled with its shard)."""
    if not progress.shards:
        return live_tests(progress.events, progress.attempt)
    tests = []
    for shard in progress.shards:
        own = (e for e in progress.events if e.run_id == shard.run_id)
        for test in live_tests(own, shard.attempt):
            test.shard = shard.shard_index
            tests.append(test)
    return tests


class ProgressPublisher:
    """Tail one run attempt's progress file into ``run_events`` until stopped.

    The executor clears the run's work dir, and the file with it, as soon as the run process
    has ended; ``read_rest`` (called by the executor just before that) keeps the lines not yet
    published, and the last publish after ``stop`` stores them, so a run's last steps and its
    last test's end are never lost to the clean-up.

    Given ``held_by`` (the worker's id), every batch goes in only while that worker still
    holds the run at this attempt, checked in the batch's own transaction: a worker that lost
    the lease would number its events after what it last saw, colliding with the new owner's.
    Once refused, the publisher stops (``lost``).
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        run_id: uuid.UUID,
        attempt: int,
        work: Path,
        *,
        every_s: float = PUBLISH_EVERY_S,
        held_by: str | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.run_id = run_id
        self.attempt = attempt
        self.held_by = held_by
        self.lost = False
        self.tail = ProgressTail(work)
        self.tests = EventPlacer()
        self.every_s = every_s
        self.seq: int | None = None
        self.stored = 0
        self.stopping = asyncio.Event()
        # The tail is read from the publishing task's thread and from the executor's.
        self._reading = threading.Lock()
        self._kept: list[bytes] = []

    def read_rest(self) -> None:
        """Keep every line still in the file (blocking; the run process has ended)."""
        try:
            with self._reading:
                while lines := self.tail.read_lines():
                    self._kept.extend(lines)
        except Exception:
            log.exception("run %s: reading the last progress failed", self.run_id)

    def _read_new(self) -> list[bytes]:
        with self._reading:
            kept, self._kept = self._kept, []
            return kept + self.tail.read_lines()

    async def run(self) -> None:
        """Publish every ``every_s`` until stopped, then once more; errors are logged, never
        raised into the run."""
        while True:
            last = self.stopping.is_set()
            if not last:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), self.every_s)
                last = self.stopping.is_set()
            try:
                if not await self.publish_once() or last:
                    return
            except Exception:
                log.exception("run %s: publishing progress failed", self.run_id)
                if last:
                    return

    async def publish_once(self) -> bool:
        """Store what was appended since the last look; False once there is nothing more
        (or the run is no longer this worker's)."""
        if self.lost or self.stored >= MAX_EVENTS_PER_RUN:
            return False
        lines = await asyncio.to_thread(self._read_new)
        if not lines and self.tail.stopped:
            return False
        parsed = [line for line in map(parse_line, lines) if line is not None]
        placed = without_seen_starts(self.tests.place(parsed))
        placed = placed[: MAX_EVENTS_PER_RUN - self.stored]
        if placed:
            await self._store(placed)
        return not self.lost

    async def _store(self, placed: list[PlacedEvent]) -> None:
        async with transaction(self.sessionmaker) as session:
            events = RunEventRepository(session)
            if self.held_by is not None and not await events.held_by(
                self.run_id, self.held_by, self.attempt
            ):
                self.lost = True
                log.warning("run %s: lease lost, %d events not published", self.run_id, len(placed))
                return
            if self.seq is None:  # after a retry of the run, numbering goes on
                self.seq = await events.last_seq(self.run_id)
            now = utcnow()
            rows = []
            for event in placed:
                self.seq += 1
                line = event.line
                rows.append(
                    {
                        "id": uuid.uuid4(),
                        "run_id": self.run_id,
                        "seq": self.seq,
                        "attempt": self.attempt,
                        "kind": line.kind,
                        "test_position": event.test_position,
                        "test_name": event.test_name,
                        "nodeid": line.nodeid,
                        "test_attempt": line.test_attempt,
                        "action": line.action,
                        "locator": line.locator,
                        "outcome": line.outcome,
                        "duration_ms": line.duration_ms,
                        "error": line.error,
                        "created_at": now,
                    }
                )
            await events.add_many(rows)
        self.stored += len(placed)


@contextlib.asynccontextmanager
async def publishing_progress(
    sessionmaker: async_sessionmaker[AsyncSession],
    run_id: uuid.UUID,
    attempt: int,
    work: Path,
    *,
    every_s: float = PUBLISH_EVERY_S,
    held_by: str | None = None,
) -> AsyncIterator[ProgressPublisher]:
    """Publish the run's progress while the block runs (the worker wraps the execution), and
    what is left once it ends; the executor calls ``read_rest`` before it clears the file.

    ``held_by``: the worker that must still hold the run for a batch to go in."""
    publisher = ProgressPublisher(
        sessionmaker, run_id, attempt, work, every_s=every_s, held_by=held_by
    )
    task = asyncio.create_task(publisher.run())
    try:
        yield publisher
    except BaseException:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        raise
    publisher.stopping.set()
    try:
        await asyncio.wait_for(task, FINAL_PUBLISH_TIMEOUT_S)
    except TimeoutError:
        log.warning("run %s: the last progress was not published in time", run_id)
