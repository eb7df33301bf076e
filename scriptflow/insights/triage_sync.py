"""A reviewer's new failure class reaches the analysis: the run is copied to the warehouse
again (a ``system`` failure is stored there as not tested) and the script's insights are
refreshed, so pass rates, flakiness and clusters follow the reviewer at once."""

from __future__ import annotations

import logging

from scriptflow.db.engine import transaction
from scriptflow.events import HandlerContext
from scriptflow.insights.lake import AnalyticsUnavailable
from scriptflow.insights.refresh import refresh_script_insights
from scriptflow.insights.warehouse_sync import sync_runs, sync_script_state, warehouse_for
from scriptflow.runs.triage import FailureClassChanged

log = logging.getLogger(__name__)


async def resync_after_triage(context: HandlerContext, event: FailureClassChanged) -> None:
    """Replace the run's rows in the warehouse, refresh and mirror the script's insights."""
    try:
        async with transaction(context.sessionmaker, write=False) as session:
            # sync_runs replaces rows of a run it has already copied.
            await sync_runs(session, warehouse_for(context.settings), [event.run_id])
    except AnalyticsUnavailable:
        log.warning("analytics unreachable; run %s waits for the next catch-up", event.run_id)
    if event.script_id is None:
        return
    async with transaction(context.sessionmaker) as session:
        await refresh_script_insights(session, event.script_id)
    try:
        async with transaction(context.sessionmaker, write=False) as session:
            await sync_script_state(session, warehouse_for(context.settings), event.script_id)
    except AnalyticsUnavailable:
        log.warning("analytics unreachable; script %s waits for the next catch-up", event.script_id)
