"""In-process notice of run status changes, so watchers wake at once instead of at their next poll.

Workers in this process publish after each committed change; watchers still poll the database
on a timeout, which covers workers in other processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid


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
