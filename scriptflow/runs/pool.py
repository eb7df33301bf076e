"""N run workers as asyncio tasks in one process: the embedded pool and `scriptflow worker`.

Build it on a sessionmaker from `scriptflow.wiring`, so finished runs reach the event table.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scriptflow import events
from scriptflow.config import Settings
from scriptflow.runs import outbox
from scriptflow.runs.executor import Executor
from scriptflow.runs.worker import Announcement, RunWorker, new_worker_id

log = logging.getLogger("scriptflow.runs")


class WorkerPool:
    """Start with ``start()``, stop with ``await stop()``; ``wake()`` after queueing a run."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        *,
        count: int | None = None,
        executor: Executor | None = None,
    ) -> None:
        self.count = settings.workers if count is None else count
        self._stop = asyncio.Event()
        self._wakeup = asyncio.Event()
        self.sessionmaker = sessionmaker
        self._finished: asyncio.Queue[Announcement] = asyncio.Queue()
        self.workers = [
            RunWorker(
                sessionmaker,
                settings,
                executor=executor,
                worker_id=new_worker_id(i),
                wakeup=self._wakeup,
                finished=self._finished,
            )
            for i in range(self.count)
        ]
        self._tasks: list[asyncio.Task[None]] = []
        self._hooks: asyncio.Task[None] | None = None
        self._dispatching: set[asyncio.Task[None]] = set()

    def start(self) -> WorkerPool:
        """Spawn the worker tasks on the running loop."""
        self._stop.clear()
        self._tasks = [
            asyncio.create_task(w.run_forever(self._stop), name=f"run-worker-{i}")
            for i, w in enumerate(self.workers)
        ]
        self._hooks = asyncio.create_task(self._run_hooks(), name="run-finished-hooks")
        log.info("run worker pool started with %d worker(s)", len(self._tasks))
        return self

    async def _run_hooks(self) -> None:
        """Run-finished handlers (the event table's): each finished run on a task of its own,
        so a slow handler of one run (an insights refresh) never delays the next run's."""
        while True:
            event = await self._finished.get()
            task = asyncio.create_task(self._dispatch(event), name="run-finished-handlers")
            self._dispatching.add(task)
            task.add_done_callback(self._dispatching.discard)

    async def _dispatch(self, announcement: Announcement) -> None:
        try:
            await events.dispatch(self.sessionmaker, announcement.event)
            if announcement.entry_id is not None:
                await outbox.mark_dispatched(self.sessionmaker, [announcement.entry_id])
        except Exception:
            # Left undispatched in the outbox: a worker takes it over when its claim expires.
            log.exception("run %s: marking its handlers done failed", announcement.event.run_id)
        finally:
            self._finished.task_done()

    def wake(self) -> None:
        """A run was queued: idle workers look now instead of at their next poll."""
        self._wakeup.set()

    async def stop(self, grace_s: float = 2.0) -> None:
        """Stop workers (runs in progress go back to the queue), then let pending hooks finish."""
        self._stop.set()
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=grace_s)
            for task in pending:
                task.cancel()
            for task in pending:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            self._tasks = []
        if self._hooks is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._finished.join(), timeout=grace_s)
            self._hooks.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._hooks
            self._hooks = None
        for task in list(self._dispatching):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
