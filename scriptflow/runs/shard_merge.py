"""The end of a sharded run: when its last shard ends, the parent run gets every shard's tests
(in shard order, each noting its shard), one summary and a status saying which shard did what.

Called inside the finishing transaction of a shard (``merge_shards``: the worker and the queue's
reaper) or of a cancel (``merge_parent``). Kept apart from ``suites`` (how suite runs are made
and read back) and from ``shards`` (the plan, which the run process imports without a database).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from scriptflow.db.base import utcnow
from scriptflow.runs.models import TERMINAL_STATUSES, RunStatus, RunTest, TestRun
from scriptflow.runs.repository import RunRepository
from scriptflow.runs.triage import classify_run


def merged_status(shards: Sequence[TestRun], cancel_requested: bool) -> tuple[str, str | None]:
    """The sharded run's status from its shards': a shard that did not finish its part makes
    the whole an error (or cancelled), failing tests make it failed."""
    if cancel_requested or any(s.status == RunStatus.CANCELLED for s in shards):
        cancelled = [s for s in shards if s.status == RunStatus.CANCELLED]
        if cancel_requested:
            return RunStatus.CANCELLED, "Run cancelled"
        names = ", ".join(f"{(s.shard_index or 0) + 1}" for s in cancelled)
        return RunStatus.ERROR, f"Shard {names} of {len(shards)} was cancelled"
    broken = [s for s in shards if s.status == RunStatus.ERROR]
    if broken:
        first = broken[0]
        return (
            RunStatus.ERROR,
            f"Shard {(first.shard_index or 0) + 1} of {len(shards)} ended in error: {first.error}",
        )
    failed = [s for s in shards if s.status == RunStatus.FAILED]
    if failed:
        return RunStatus.FAILED, failed[0].error
    return RunStatus.PASSED, None


async def merge_shards(session: AsyncSession, shard_id: uuid.UUID) -> uuid.UUID | None:
    """After a shard ended (inside its finishing transaction): when it was the last one, end
    the parent with every shard's tests. Returns the parent's id when it ended now."""
    shard = await RunRepository(session).get(shard_id)
    if shard is None or shard.parent_id is None:
        return None
    return await merge_parent(session, shard.parent_id)


async def merge_parent(session: AsyncSession, parent_id: uuid.UUID) -> uuid.UUID | None:
    """End a sharded run if all its shards have ended; else mark it running once one has begun."""
    runs = RunRepository(session)
    # Locks the parent (PostgreSQL): of two shards finishing at once, the later one sees the
    # other's committed status and merges.
    parent = await runs.lock(parent_id)
    if parent is None or parent.status in TERMINAL_STATUSES:
        return None
    shards = await runs.shards(parent.id)
    if any(s.status not in TERMINAL_STATUSES for s in shards):
        begun = [s.started_at for s in shards if s.started_at]
        if parent.status == RunStatus.QUEUED and begun:
            parent.status = RunStatus.RUNNING
            parent.started_at = min(begun)
        return None
    status, error = merged_status(shards, parent.cancel_requested)
    tests: list[dict[str, Any]] = []
    summary = {o: 0 for o in ("passed", "failed", "flaky", "skipped", "error")}
    position = 0
    for s in shards:
        for test in await runs.tests(s.id):
            session.add(
                RunTest(
                    run_id=parent.id,
                    position=position,
                    name=test.name,
                    nodeid=test.nodeid,
                    file=test.file,
                    outcome=test.outcome,
                    duration_ms=test.duration_ms,
                    attempts=test.attempts,
                    error=test.error,
                )
            )
            position += 1
            summary[test.outcome] = summary.get(test.outcome, 0) + 1
            tests.append(_test_document(test, s.shard_index))
    started = [s.started_at for s in shards if s.started_at]
    parent.status = status
    parent.error = error
    parent.started_at = min(started) if started else parent.started_at
    parent.completed_at = utcnow()
    parent.results = {
        "summary": {"total": len(tests), **summary},
        "tests": tests,
        "shards": [
            {
                "index": s.shard_index,
                "run_id": str(s.id),
                "status": s.status,
                "error": s.error,
                "attempt": s.attempt,
                "tests": len((s.results or {}).get("tests") or []),
                "duration_ms": (s.results or {}).get("duration_ms"),
            }
            for s in shards
        ],
        "duration_ms": _wall_ms(shards),
    }
    await session.flush()
    await classify_run(session, parent.id)
    return parent.id


def _wall_ms(shards: Sequence[TestRun]) -> int | None:
    starts = [s.started_at for s in shards if s.started_at]
    ends = [s.completed_at for s in shards if s.completed_at]
    if not starts or not ends:
        return None
    return int((max(ends) - min(starts)).total_seconds() * 1000)


def _test_document(test: RunTest, shard: int | None) -> dict[str, Any]:
    return {
        "name": test.name,
        "nodeid": test.nodeid,
        "file": test.file,
        "outcome": test.outcome,
        "duration_ms": test.duration_ms,
        "attempts": test.attempts,
        "error": test.error,
        "shard": shard,
    }
