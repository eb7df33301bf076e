"""SQL for run progress events."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, insert, select

from scriptflow.db.repository import Repository
from scriptflow.runs.models import TestRun
from scriptflow.runs.progress.models import RunEvent
from scriptflow.runs.queue import Claim, owned


class RunEventRepository(Repository[RunEvent]):
    model = RunEvent

    async def last_seq(self, run_id: uuid.UUID) -> int:
        stmt = select(func.coalesce(func.max(RunEvent.seq), 0)).where(RunEvent.run_id == run_id)
        return int((await self.session.execute(stmt)).scalar_one())

    async def held_by(self, run_id: uuid.UUID, worker_id: str, attempt: int) -> bool:
        """Whether the worker still holds the running run at this attempt.

        The row stays locked to the end of the caller's transaction (PostgreSQL; SQLite's
        write transaction holds the whole database), so no claim takes the run over between
        this check and the caller's insert.
        """
        claim = Claim(run_id, worker_id, attempt)
        stmt = select(TestRun.id).where(owned(claim)).with_for_update()  # type: ignore[arg-type]
        return (await self.session.execute(stmt)).first() is not None

    async def add_many(self, rows: Sequence[dict[str, object]]) -> None:
        """One multi-row insert for a batch (one statement, one fsync on SQLite)."""
        if rows:
            await self.session.execute(insert(RunEvent), list(rows))

    async def after(self, run_id: uuid.UUID, after: int, limit: int) -> list[RunEvent]:
        stmt = (
            select(RunEvent)
            .where(RunEvent.run_id == run_id, RunEvent.seq > after)
            .order_by(RunEvent.seq)
            .limit(limit)
        )
        return list((await self.session.scalars(stmt)).all())

    async def shards_of(self, run_id: uuid.UUID) -> list[TestRun]:
        """A sharded run's shards in shard order (none for any other run)."""
        stmt = select(TestRun).where(TestRun.parent_id == run_id).order_by(TestRun.shard_index)
        return list((await self.session.scalars(stmt)).all())
