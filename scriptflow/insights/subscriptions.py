"""What insights do when other domains report something: a run finished, a change set accepted.

After a run: copy the run into the warehouse at once, then refresh the script's insights (one
refresh at a time per script, coalesced), queue confirmation reruns for a new flaky suspicion
and mirror the changed state into the warehouse. After an accept: show the new
revision in the warehouse.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from scriptflow.changesets.events import ChangesetAccepted
from scriptflow.config import Settings
from scriptflow.db.engine import transaction
from scriptflow.errors import ScriptflowError
from scriptflow.events import HandlerContext
from scriptflow.insights.extract import run_script_ids
from scriptflow.insights.lake import AnalyticsUnavailable
from scriptflow.insights.models import AIInsight
from scriptflow.insights.refresh import refresh_script_insights
from scriptflow.insights.thresholds import Thresholds
from scriptflow.insights.warehouse_drain import enqueue_insight_mirror, enqueue_runs
from scriptflow.insights.warehouse_sync import (
    sync_script_state,
    warehouse_for,
)
from scriptflow.projects.repository import ProjectRepository
from scriptflow.runs.events import RunFinished
from scriptflow.runs.repository import RunRepository
from scriptflow.runs.service import create_run
from scriptflow.runs.suites import queue_suite_confirmation

log = logging.getLogger("scriptflow.insights")

FLAKY_TYPES = frozenset({"flaky-test", "flaky-selector"})


async def append_after_run(context: HandlerContext, event: RunFinished) -> None:
    """Queue the finished run for the warehouse, right after its commit.

    One INSERT in the SQL database: the deployment's one lake writer (``warehouse_drain``)
    appends queued runs in batches, woken by the enqueue, so every process's dashboard shows the
    run within a drain. The outbox runs this handler again if the process died before it ran.
    """
    if event.status == "cancelled":
        return
    async with transaction(context.sessionmaker) as session:
        await enqueue_runs(session, [event.run_id])


@dataclass
class _InFlight:
    """Work on one key under way in this process, and whether to do it once more after."""

    finished: asyncio.Future[None]
    again: bool = False
    runs: list[RunFinished] = field(default_factory=list)


# Work under way, by key: bookkeeping of work in flight (entries leave when it ends).
_refreshing: dict[uuid.UUID, _InFlight] = {}  # by script
_mirroring: dict[uuid.UUID, _InFlight] = {}  # by project


async def _coalesced(
    in_flight: dict[uuid.UUID, _InFlight],
    key: uuid.UUID,
    event: RunFinished,
    work: Callable[[list[RunFinished]], Awaitable[None]],
) -> None:
    """Do ``work`` for ``key``, or, when it is under way, ask for one more round and wait for it.

    The work reads the latest state, so one round after the current one covers every run that
    asked meanwhile: a burst of N runs costs two rounds, not N.
    """
    under_way = in_flight.get(key)
    if under_way is not None:
        under_way.again = True
        under_way.runs.append(event)
        await asyncio.shield(under_way.finished)
        return
    state = _InFlight(asyncio.get_running_loop().create_future(), runs=[event])
    in_flight[key] = state
    try:
        while True:
            state.again = False
            runs, state.runs = state.runs, []
            await work(runs)
            if not state.again:
                break
    finally:
        del in_flight[key]
        state.finished.set_result(None)


async def refresh_after_run(context: HandlerContext, event: RunFinished) -> None:
    """Refresh the script's insights, confirm new flaky suspicions, mirror them in the warehouse.

    Coalesced: per script, a run finishing while its script is being refreshed asks for one
    more refresh after the current one and waits for that, instead of a refresh of its own; the
    mirror of the project's insights in the warehouse likewise, per project. Returns once the
    insights include this run.
    """
    if event.status == "cancelled":
        return
    if event.script_id is not None:
        script_ids = [event.script_id]
    else:  # a suite or shard run: every file it has history for
        async with transaction(context.sessionmaker, write=False) as session:
            script_ids = await session.run_sync(lambda sync: run_script_ids(sync, event.run_id))
    if not script_ids:
        return
    for script_id in script_ids:

        async def refresh(runs: list[RunFinished], script_id: uuid.UUID = script_id) -> None:
            await _refresh_script(context, script_id, runs)

        await _coalesced(_refreshing, script_id, event, refresh)

    async def mirror(_runs: list[RunFinished]) -> None:
        await _mirror_project(context, event.project_id)

    await _coalesced(_mirroring, event.project_id, event, mirror)


async def _refresh_script(
    context: HandlerContext, script_id: uuid.UUID, runs: Sequence[RunFinished]
) -> None:
    started = time.perf_counter()
    async with transaction(context.sessionmaker) as session:
        result = await refresh_script_insights(session, script_id)
        # Confirmation reruns answer the newest run that is not itself a confirmation.
        asking = [run for run in runs if run.trigger != "confirmation"]
        if asking:
            await queue_confirmation_reruns(
                session, context.settings, asking[-1].run_id, result.created
            )
    log.info(
        "script %s (%d run(s)): insights refreshed in %.3f s",
        script_id,
        len(runs),
        time.perf_counter() - started,
    )


async def _mirror_project(context: HandlerContext, project_id: uuid.UUID) -> None:
    """The project's insights into the warehouse, for the dashboard's queries (revisions follow
    accepts: ``sync_after_accept``): queued, so the lake writer mirrors them in the commit of
    its next drain, beside the runs, instead of a lake commit of their own."""
    async with transaction(context.sessionmaker) as session:
        await enqueue_insight_mirror(session, [project_id])


async def sync_after_accept(context: HandlerContext, event: ChangesetAccepted) -> None:
    """Show an accepted revision in this process's warehouse at once (best-effort).

    Dispatched after the accept committed; should the sync fail, the next catch-up or sync of
    the script replaces the script's revisions again.
    """
    try:
        async with transaction(context.sessionmaker, write=False) as session:
            warehouse = warehouse_for(context.settings)
            await sync_script_state(session, warehouse, event.script_id)
    except AnalyticsUnavailable:
        log.warning("analytics unreachable; script %s waits for the next catch-up", event.script_id)


async def queue_confirmation_reruns(
    session: AsyncSession,
    settings: Settings,
    run_id: uuid.UUID,
    new_insights: Sequence[AIInsight],
) -> list[uuid.UUID]:
    """Queue N isolated reruns of the run's version and environment for a new flaky suspicion."""
    suspicious = [insight for insight in new_insights if insight.type in FLAKY_TYPES]
    if not suspicious:
        return []
    project = await ProjectRepository(session).get(suspicious[0].project_id)
    reruns = Thresholds.from_project_settings(project.settings if project else None)
    if reruns.confirmation_reruns <= 0:
        return []
    run = await RunRepository(session).get(run_id)
    if run is None or run.created_by is None:
        return []
    queued = []
    try:
        # A savepoint: if the reruns cannot be queued (the user lost access, the environment
        # is gone), the refreshed insights are still kept.
        async with session.begin_nested():
            for _ in range(reruns.confirmation_reruns):
                if run.script_id is None:
                    # A suite or shard run: only its suspected tests, at its snapshot.
                    suite_rerun = await queue_suite_confirmation(session, settings, run, suspicious)
                    if suite_rerun is None:
                        return []
                    queued.append(suite_rerun.id)
                    continue
                rerun = await create_run(
                    session,
                    run.created_by,
                    settings,
                    script_id=run.script_id,
                    environment=run.environment,
                    browser=run.browser,
                    retries=0,
                    version=run.script_version,
                    trigger="confirmation",
                )
                queued.append(rerun.id)
    except ScriptflowError as error:
        log.warning("confirmation reruns for run %s not queued: %s", run_id, error.message)
        return []
    for insight in suspicious:
        insight.details = {
            **insight.details,
            "confirmation": {
                "status": "pending",
                "requested": reruns.confirmation_reruns,
                "reruns": 0,
                "run_ids": [str(ident) for ident in queued],
            },
        }
    await session.flush()
    return queued
