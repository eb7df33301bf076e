"""What insights do when other domains report something: a run finished, a change set accepted.

After a run: refresh the script's insights, queue confirmation reruns for a new flaky suspicion,
and copy the run and the changed state into the warehouse. After an accept: show the new
revision in the warehouse.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from scriptflow.changesets.events import ChangesetAccepted
from scriptflow.config import Settings
from scriptflow.db.engine import transaction
from scriptflow.errors import ScriptflowError
from scriptflow.events import HandlerContext
from scriptflow.insights.lake import AnalyticsUnavailable
from scriptflow.insights.models import AIInsight
from scriptflow.insights.refresh import refresh_script_insights
from scriptflow.insights.thresholds import Thresholds
from scriptflow.insights.warehouse_sync import (
    sync_recent_runs,
    sync_script_state,
    warehouse_for,
)
from scriptflow.projects.repository import ProjectRepository
from scriptflow.runs.events import RunFinished
from scriptflow.runs.repository import RunRepository
from scriptflow.runs.service import create_run

log = logging.getLogger("scriptflow.insights")

FLAKY_TYPES = frozenset({"flaky-test", "flaky-selector"})


async def refresh_after_run(context: HandlerContext, event: RunFinished) -> None:
    """Refresh the script's insights, confirm new flaky suspicions, sync the warehouse."""
    if event.status == "cancelled" or event.script_id is None:
        return  # suite, shard and imported runs: no one script to refresh (issue 13)
    started = time.perf_counter()
    try:
        # The run first: every process's dashboard shows it as soon as it is appended.
        async with transaction(context.sessionmaker, write=False) as session:
            await sync_recent_runs(session, warehouse_for(context.settings), [event.run_id])
    except AnalyticsUnavailable:
        log.warning("analytics unreachable; run %s waits for the next catch-up", event.run_id)
    synced = time.perf_counter()
    async with transaction(context.sessionmaker) as session:
        result = await refresh_script_insights(session, event.script_id)
        if event.trigger != "confirmation":
            await queue_confirmation_reruns(session, context.settings, event.run_id, result.created)
    refreshed = time.perf_counter()
    try:
        async with transaction(context.sessionmaker, write=False) as session:
            # The refresh may have changed insights, and the run may follow an accept.
            await sync_script_state(session, warehouse_for(context.settings), event.script_id)
        log.info(
            "run %s: synced in %.3f s, insights refreshed in %.3f s, state mirrored in %.3f s",
            event.run_id,
            synced - started,
            refreshed - synced,
            time.perf_counter() - refreshed,
        )
    except AnalyticsUnavailable:
        log.warning("analytics unreachable; script %s waits for the next catch-up", event.script_id)


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
    if run is None or run.created_by is None or run.script_id is None:
        return []
    queued = []
    try:
        # A savepoint: if the reruns cannot be queued (the user lost access, the environment
        # is gone), the refreshed insights are still kept.
        async with session.begin_nested():
            for _ in range(reruns.confirmation_reruns):
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
