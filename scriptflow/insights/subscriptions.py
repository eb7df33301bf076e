"""What insights do when other domains report something: a run finished, a change set accepted.

After a run: refresh the script's insights, queue confirmation reruns for a new flaky suspicion,
and copy the run and the changed state into the warehouse. After an accept: show the new
revision in the warehouse.
"""

from __future__ import annotations

import logging
import uuid
import weakref
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from scriptflow.config import Settings, get_settings
from scriptflow.db.engine import transaction
from scriptflow.errors import ScriptflowError
from scriptflow.insights.models import AIInsight
from scriptflow.insights.refresh import refresh_script_insights
from scriptflow.insights.thresholds import Thresholds
from scriptflow.insights.warehouse import WarehouseBusy
from scriptflow.insights.warehouse_sync import sync_runs, sync_script_state, warehouse_for
from scriptflow.projects.repository import ProjectRepository
from scriptflow.runs.hooks import RunFinished, register_run_finished
from scriptflow.runs.repository import RunRepository
from scriptflow.runs.service import create_run

log = logging.getLogger("scriptflow.insights")

FLAKY_TYPES = frozenset({"flaky-test", "flaky-selector"})


# Weak keys: a sessionmaker that is gone (a finished test, a stopped app) drops its settings.
_bound_settings: weakref.WeakKeyDictionary[async_sessionmaker[AsyncSession], Settings] = (
    weakref.WeakKeyDictionary()
)


# The same, by engine: a request's session (an accept) knows its engine, not its sessionmaker.
_bound_engines: weakref.WeakKeyDictionary[AsyncEngine, Settings] = weakref.WeakKeyDictionary()


def bind_settings(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> None:
    """Tell the run-finished hook which settings go with a sessionmaker (data dir, run limits)."""
    _bound_settings[sessionmaker] = settings
    engine = sessionmaker.kw.get("bind")
    if isinstance(engine, AsyncEngine):
        _bound_engines[engine] = settings


def _settings_for(sessionmaker: async_sessionmaker[AsyncSession]) -> tuple[Settings, bool]:
    bound = _bound_settings.get(sessionmaker)
    return (bound, True) if bound is not None else (get_settings(), False)


@register_run_finished
async def refresh_after_run(
    sessionmaker: async_sessionmaker[AsyncSession], event: RunFinished
) -> None:
    """The run-finished hook: refresh the script's insights, confirm new flaky suspicions."""
    if event.status == "cancelled":
        return
    settings, bound = _settings_for(sessionmaker)
    async with transaction(sessionmaker) as session:
        result = await refresh_script_insights(session, event.script_id)
        if event.trigger != "confirmation":
            await queue_confirmation_reruns(session, settings, event.run_id, result.created)
    if bound:
        try:
            async with transaction(sessionmaker, write=False) as session:
                warehouse = warehouse_for(settings.data_dir)
                await sync_runs(session, warehouse, [event.run_id])
                # The refresh may have changed insights, and the run may follow an accept.
                await sync_script_state(session, warehouse, event.script_id)
        except WarehouseBusy:
            log.info("warehouse busy; run %s will be synced by the next catch-up", event.run_id)


async def revision_accepted(session: AsyncSession, script_id: uuid.UUID) -> None:
    """Show an accepted revision in this process's warehouse at once (best-effort).

    Runs inside the accept's transaction, so it sees the new revision. Should that transaction
    then fail, the next sync of the script replaces the script's revisions again.
    """
    settings = _bound_engines.get(session.bind) if isinstance(session.bind, AsyncEngine) else None
    if settings is None:  # not a served app (a script, a test without one): catch_up does it
        return
    try:
        await sync_script_state(session, warehouse_for(settings.data_dir), script_id)
    except WarehouseBusy:
        log.info("warehouse busy; script %s will be synced by the next catch-up", script_id)
    except Exception:  # the warehouse is a copy: never fail an accept on it
        log.exception("warehouse sync after accepting on script %s failed", script_id)


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
