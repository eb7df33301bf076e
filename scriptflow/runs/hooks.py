"""Callbacks run after a run reaches a terminal status (insights register here)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

log = logging.getLogger("scriptflow.runs")


@dataclass(frozen=True)
class RunFinished:
    """What a hook learns about a run that just ended (read anything else from the database)."""

    run_id: uuid.UUID
    project_id: uuid.UUID
    script_id: uuid.UUID
    status: str
    trigger: str


RunFinishedHook = Callable[[async_sessionmaker[AsyncSession], RunFinished], Awaitable[None]]

# Process-wide list; register at import or start-up time. Hooks run after the finishing
# transaction has committed, one after the other; a failing hook is logged and skipped.
on_run_finished: list[RunFinishedHook] = []


def register_run_finished(hook: RunFinishedHook) -> RunFinishedHook:
    """Add a hook once (usable as a decorator)."""
    if hook not in on_run_finished:
        on_run_finished.append(hook)
    return hook


async def notify_run_finished(
    sessionmaker: async_sessionmaker[AsyncSession], event: RunFinished
) -> None:
    """Call every hook; errors never reach the worker."""
    for hook in list(on_run_finished):
        try:
            await hook(sessionmaker, event)
        except Exception:
            log.exception("run-finished hook %r failed for run %s", hook, event.run_id)
