"""Scheduled compaction of the warehouse, in every API and worker process.

Each process tries every ``SCRIPTFLOW_ANALYTICS_COMPACT_EVERY_S`` seconds; the writer lock lets
one compaction run at a time in the deployment and the others skip, so N processes cost nothing
but a lock attempt each.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random

from scriptflow.config import Settings
from scriptflow.insights.warehouse_sync import warehouse_for

log = logging.getLogger("scriptflow.insights")


async def compact_periodically(settings: Settings) -> None:
    """Compact, then sleep; forever (cancel the task to stop it)."""
    every = settings.analytics_compact_every_s
    if every <= 0:
        return
    # Processes started together should not all try at the same instant.
    await asyncio.sleep(every * random.uniform(0.5, 1.0))
    while True:
        try:
            done = await asyncio.to_thread(warehouse_for(settings).compact, wait=False)
            if done.ran:
                log.info(
                    "warehouse compacted in %.2f s: %d inlined rows out, files %d → %d",
                    done.seconds,
                    done.inlined_rows_before,
                    done.files_before,
                    done.files_after,
                )
        except Exception:
            log.exception("warehouse compaction failed; trying again later")
        await asyncio.sleep(every)


def start_compaction(settings: Settings) -> asyncio.Task[None]:
    """The scheduled compaction as a task of the running loop."""
    return asyncio.create_task(compact_periodically(settings), name="warehouse-compaction")


async def stop_compaction(task: asyncio.Task[None]) -> None:
    """Cancel the task and wait for it (a running compaction finishes in its thread)."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
