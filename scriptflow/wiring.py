"""The composition root: how the house is put together, in one place.

The API's lifespan, `scriptflow worker`, the CLI, the demo command and the notebooks all build
their database access here, so every unit of work dispatches the same cross-domain effects
after it commits. Nothing registers itself by being imported.

The event table (who reacts to what):

=====================  ==========================================  =========================
event                  handler                                     effect
=====================  ==========================================  =========================
`RunFinished`          `insights.subscriptions.append_after_run`   the run queued for the
                                                                   lake writer (one INSERT)
`RunFinished`          `insights.subscriptions.refresh_after_run`  refresh insights (coalesced
                                                                   per script), queue
                                                                   confirmation reruns, mirror
                                                                   them in the warehouse
`ChangesetAccepted`    `insights.subscriptions.sync_after_accept`  the new revision in the
                                                                   warehouse
`ScriptRevised`        `insights.supersede.close_superseded`       close insights on code the
                                                                   version removed
`FailureClassChanged`  `insights.triage_sync.resync_after_triage`  the run again in the
                                                                   warehouse, insights fresh
=====================  ==========================================  =========================

A worker pool dispatches each finished run on its own task (`runs.pool`), so one run's insights
refresh never delays the next run's append.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from scriptflow.changesets.events import ChangesetAccepted
from scriptflow.config import Settings
from scriptflow.db.engine import create_engine, create_sessionmaker
from scriptflow.enhance.hints import hints_from_run_results
from scriptflow.enhance.proposal import LocatorHints, Provider
from scriptflow.enhance.service import providers_from_settings
from scriptflow.events import EventTable, Handler, HandlerContext, attach
from scriptflow.insights.subscriptions import (
    append_after_run,
    refresh_after_run,
    sync_after_accept,
)
from scriptflow.insights.supersede import close_superseded
from scriptflow.insights.triage_sync import resync_after_triage
from scriptflow.runs.events import RunFinished
from scriptflow.runs.repository import RunRepository
from scriptflow.runs.triage import FailureClassChanged
from scriptflow.scripts.events import ScriptRevised

EVENT_TABLE: Mapping[type, Sequence[Handler]] = {
    RunFinished: (append_after_run, refresh_after_run),
    ChangesetAccepted: (sync_after_accept,),
    ScriptRevised: (close_superseded,),
    FailureClassChanged: (resync_after_triage,),
}


def wired_sessionmaker(
    engine: AsyncEngine,
    settings: Settings,
    *,
    table: Mapping[type, Sequence[Handler]] = EVENT_TABLE,
) -> async_sessionmaker[AsyncSession]:
    """A sessionmaker whose units of work dispatch `table` (the event table) after commit."""
    sessionmaker = create_sessionmaker(engine)
    attach(sessionmaker, EventTable(table, HandlerContext(sessionmaker, settings)))
    return sessionmaker


async def seen_locators(session: AsyncSession, script_id: uuid.UUID) -> LocatorHints:
    """What the script's last finished run saw of the elements its selectors matched."""
    return hints_from_run_results(await RunRepository(session).last_results(script_id))


@dataclass(frozen=True)
class Wiring:
    """Everything a face needs: settings, the engine, wired units of work, the AI providers."""

    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    providers: Mapping[str, Provider]

    async def close(self) -> None:
        await self.engine.dispose()


def wire(settings: Settings, engine: AsyncEngine | None = None) -> Wiring:
    """Assemble the house for these settings (on a given engine, or a new one)."""
    engine = engine or create_engine(settings.resolved_database_url)
    return Wiring(
        settings=settings,
        engine=engine,
        sessionmaker=wired_sessionmaker(engine, settings),
        providers=providers_from_settings(settings),
    )
