"""Warm a process's run handlers at start, so its first finished runs do not pay for it.

The first insight refresh in a process imports and builds what every later one reuses: the
rules engine's parser (libcst), the process's in-memory DuckDB and its rollup views, pandas
behind the findings' frames, SQLAlchemy's compiled history query. In the scale-out test at
load 8-13 the first four refreshes took 3.2-6.9 s against 0.1-1.6 s for the later ones, and
the lake writer's first extraction 3.3 s against 0.02-0.4 s; the first runs after a start were
the last to show on the dashboard. An API's first impact reports (an in-memory history each)
pay the same. `warm_up` does that work once, over an empty history and a script id no row
has, in the background of every worker and API process at start: by the time a first run
ends, or a first report is asked for, it is done.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scriptflow.db.base import utcnow
from scriptflow.db.engine import transaction
from scriptflow.enhance.proposal import EnhanceOptions
from scriptflow.enhance.rules import enhance_with_rules
from scriptflow.insights.analysis import compute_findings
from scriptflow.insights.extract import extract_runs
from scriptflow.insights.memory_history import MemoryHistory
from scriptflow.insights.thresholds import Thresholds

log = logging.getLogger("scriptflow.insights")

# A script with a hard wait and a brittle selector: the rules engine's families all look at it.
SAMPLE_SCRIPT = (
    "def test_sample(page):\n    page.goto('/')\n    page.wait_for_timeout(10)\n"
    "    page.click('#submit')\n"
)

_warmed: asyncio.Task[float] | None = None


def _analysis() -> None:
    """The refresh's CPU work over nothing: an empty history's findings and one rules pass."""
    history = MemoryHistory([])
    try:
        compute_findings(history, Thresholds(), script_id=uuid.uuid4(), now=utcnow())
    finally:
        history.close()
    enhance_with_rules(SAMPLE_SCRIPT, EnhanceOptions())


async def warm_up(sessionmaker: async_sessionmaker[AsyncSession]) -> float:
    """The refresh path once, finding nothing and writing nothing; its seconds."""
    started = time.perf_counter()
    nobody = uuid.uuid4()
    async with transaction(sessionmaker, write=False) as session:
        since = utcnow() - timedelta(days=1)
        await session.run_sync(
            lambda sync: list(extract_runs(sync, script_id=nobody, created_since=since))
        )
    await asyncio.to_thread(_analysis)
    return time.perf_counter() - started


def start_warm_up(sessionmaker: async_sessionmaker[AsyncSession]) -> asyncio.Task[float] | None:
    """``warm_up`` in the background, once per process (None once it has been started)."""
    global _warmed
    if _warmed is not None:
        return None

    async def run() -> float:
        try:
            seconds = await warm_up(sessionmaker)
        except Exception:  # a cold first refresh is slower, never wrong: nothing to fail
            log.warning("the run handlers' warm-up failed; the first refresh pays for it")
            return 0.0
        log.info("run handlers warmed up in %.3f s", seconds)
        return seconds

    _warmed = asyncio.create_task(run(), name="insights-warm-up")
    return _warmed


async def stop_warm_up() -> None:
    """At shutdown: a warm-up still under way is cancelled before the engine goes. It is not
    started again in this process: a process whose apps come and go (the test suite builds one
    per test) would otherwise start one per app, and pay for each."""
    task = _warmed
    if task is None or task.done():
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
