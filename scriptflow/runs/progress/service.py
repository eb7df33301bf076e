"""Publish a running run's progress (the worker) and read it back (API, run page)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
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
    PlacedEvent,
    parse_line,
)
from scriptflow.runs.progress.repository import RunEventRepository
from scriptflow.runs.progress.tail import ProgressTail
from scriptflow.runs.service import run_snapshot

log = logging.getLogger("scriptflow.runs")

# How often the worker looks at the file: a page polling once a second sees a step within
# about a second and a half; a quiet run costs one stat a tick and no database write.
PUBLISH_EVERY_S = 0.5
MAX_PAGE = 1000


@dataclass(frozen=True)
class RunProgress:
    """A run's state and its progress events after a cursor."""

    run_id: uuid.UUID
    status: str
    attempt: int
    started_at: datetime | None
    completed_at: datetime | None
    events: list[RunEvent]

    @property
    def last_seq(self) -> int | None:
        return self.events[-1].seq if self.events else None


async def run_progress(
    session: AsyncSession,
    user_id: uuid.UUID,
    run_id: uuid.UUID,
    *,
    after: int = 0,
    limit: int = MAX_PAGE,
) -> RunProgress:
    """The run's status and its events numbered above ``after``; NotFound for a stranger."""
    snapshot = await run_snapshot(session, user_id, run_id)
    events = await RunEventRepository(session).after(
        run_id, max(after, 0), min(max(limit, 1), MAX_PAGE)
    )
    return RunProgress(
        snapshot.id,
        snapshot.status,
        snapshot.attempt,
        snapshot.started_at,
        snapshot.completed_at,
        events,
    )


class ProgressPublisher:
    """Tail one run attempt's progress file into ``run_events`` until cancelled."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        run_id: uuid.UUID,
        attempt: int,
        work: Path,
        *,
        every_s: float = PUBLISH_EVERY_S,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.run_id = run_id
        self.attempt = attempt
        self.tail = ProgressTail(work)
        self.tests = EventPlacer()
        self.every_s = every_s
        self.seq: int | None = None
        self.stored = 0

    async def run(self) -> None:
        """Publish every ``every_s``; errors are logged, never raised into the run."""
        while True:
            await asyncio.sleep(self.every_s)
            try:
                if not await self.publish_once():
                    return
            except Exception:
                log.exception("run %s: publishing progress failed", self.run_id)

    async def publish_once(self) -> bool:
        """Store what was appended since the last look; False once there is nothing more."""
        if self.tail.stopped or self.stored >= MAX_EVENTS_PER_RUN:
            return False
        lines = await asyncio.to_thread(self.tail.read_lines)
        parsed = [line for line in map(parse_line, lines) if line is not None]
        placed = self.tests.place(parsed)[: MAX_EVENTS_PER_RUN - self.stored]
        if placed:
            await self._store(placed)
        return True

    async def _store(self, placed: list[PlacedEvent]) -> None:
        async with transaction(self.sessionmaker) as session:
            events = RunEventRepository(session)
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
    sessionmaker: async_sessionmaker[AsyncSession], run_id: uuid.UUID, attempt: int, work: Path
) -> AsyncIterator[ProgressPublisher]:
    """Publish the run's progress while the block runs (the worker wraps the execution)."""
    publisher = ProgressPublisher(sessionmaker, run_id, attempt, work)
    task = asyncio.create_task(publisher.run())
    try:
        yield publisher
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
