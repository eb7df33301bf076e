"""What runs tell the rest of the house: a run finished, and in-process status-change notices.

`RunFinished` is dispatched (after commit) to the handlers of the event table in
`scriptflow.wiring`. Status-change notices wake watchers at once instead of at their next poll:
workers in this process publish after each committed change; watchers still poll the database
on a timeout, which covers workers in other processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass


@dataclass(frozen=True)
class RunFinished:
    """A run reached a terminal status (read anything else from the database)."""

    run_id: uuid.UUID
    project_id: uuid.UUID
    script_id: uuid.UUID | None  # None: a suite, shard or imported run
    status: str
    trigger: str


class RunStatusChanges:
    """Wake whoever waits on a run when its status changed (one event loop)."""

    def __init__(self) -> None:
        self._waiters: dict[uuid.UUID, set[asyncio.Event]] = {}

    def publish(self, run_id: uuid.UUID) -> None:
        """The run changed; wake its watchers."""
        for event in self._waiters.get(run_id, ()):
            event.set()

    async def wait(self, run_id: uuid.UUID, timeout_s: float) -> None:
        """Return on the next change of ``run_id`` or after ``timeout_s``, whichever is first."""
        event = asyncio.Event()
        waiters = self._waiters.setdefault(run_id, set())
        waiters.add(event)
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), timeout_s)
        finally:
            waiters.discard(event)
            if not waiters:
                self._waiters.pop(run_id, None)


run_status_changes = RunStatusChanges()
