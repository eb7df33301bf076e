"""Keep the DuckLake warehouse a copy of the SQL database: append runs, mirror state, rebuild."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Sequence
from datetime import UTC, timedelta

import pyarrow as pa
from sqlalchemy.ext.asyncio import AsyncSession

from scriptflow.config import Settings, sync_database_url
from scriptflow.insights.extract import extract_revisions, extract_runs
from scriptflow.insights.lake import LakeLocation, create_catalog
from scriptflow.insights.repository import HistoryRepository, InsightRepository
from scriptflow.insights.warehouse import (
    CompactResult,
    ScopedReader,
    SyncResult,
    Warehouse,
)
from scriptflow.insights.warehouse_schema import LAKE_DDL, insights_arrow
from scriptflow.projects.service import member_project_ids
from scriptflow.scripts.repository import ScriptRepository

CATCH_UP_PAGE_RUNS = 2_000

_warehouses: dict[LakeLocation, Warehouse] = {}
_warehouses_lock = threading.Lock()


def warehouse_for(settings: Settings) -> Warehouse:
    """This process's connection to the deployment's warehouse (attached lazily)."""
    key = LakeLocation.for_settings(settings)
    with _warehouses_lock:
        if key not in _warehouses:
            _warehouses[key] = Warehouse(key)
        return _warehouses[key]


def close_warehouses() -> None:
    """Detach every warehouse this process attached (shutdown, tests)."""
    with _warehouses_lock:
        for warehouse in _warehouses.values():
            warehouse.close()
        _warehouses.clear()


async def sync_runs(
    session: AsyncSession,
    warehouse: Warehouse,
    run_ids: Sequence[uuid.UUID],
    *,
    replace: bool = True,
) -> SyncResult:
    """Append finished runs to the warehouse (idempotent; see ``Warehouse.append``)."""
    batches = await session.run_sync(lambda sync: list(extract_runs(sync, run_ids=run_ids)))
    totals = [0, 0, 0]
    for batch in batches:
        done = await asyncio.to_thread(warehouse.append, batch, replace=replace)
        totals = [totals[0] + done.runs, totals[1] + done.tests, totals[2] + done.steps]
    return SyncResult(*totals)


async def catch_up(session: AsyncSession, warehouse: Warehouse) -> SyncResult:
    """Append whatever finished since the warehouse's watermark and is missing from it.

    Only run ids are read first; the rows of the missing runs follow in bounded pages, each
    appended from a thread. A very large first load is better done with ``analytics rebuild``.
    """
    watermark = await asyncio.to_thread(warehouse.latest_completed_at)
    # Runs finish out of order across workers: look back a day before the watermark.
    since = watermark.replace(tzinfo=UTC) - timedelta(days=1) if watermark is not None else None
    candidates = [str(ident) for ident in await HistoryRepository(session).finished_run_ids(since)]
    known = await asyncio.to_thread(warehouse.known_run_ids, candidates)
    missing = [uuid.UUID(run_id) for run_id in candidates if run_id not in known]
    totals = SyncResult(0, 0, 0)
    for start in range(0, len(missing), CATCH_UP_PAGE_RUNS):
        # Not replacing: the drain writer may have appended one of them meanwhile.
        page = await sync_runs(
            session, warehouse, missing[start : start + CATCH_UP_PAGE_RUNS], replace=False
        )
        totals = SyncResult(
            totals.runs + page.runs, totals.tests + page.tests, totals.steps + page.steps
        )
    revisions = await session.run_sync(lambda sync: extract_revisions(sync))
    await asyncio.to_thread(warehouse.replace_revisions, revisions, None)
    await mirror_project_insights(session, warehouse)
    return totals


async def sync_script_state(
    session: AsyncSession, warehouse: Warehouse, script_id: uuid.UUID
) -> None:
    """Replace one script's revisions and its project's insights in the warehouse (one commit)."""
    script = await ScriptRepository(session).get(script_id)
    if script is None:
        return
    revisions = await session.run_sync(lambda sync: extract_revisions(sync, script_id=script_id))
    insights, project_ids = await _insights_table(session, script.project_id)
    await asyncio.to_thread(
        warehouse.replace_script_state, revisions, [str(script_id)], insights, project_ids
    )


async def mirror_project_insights(
    session: AsyncSession, warehouse: Warehouse, project_id: uuid.UUID | None = None
) -> None:
    """Replace one project's insights (every project's when None) in the warehouse."""
    table, project_ids = await _insights_table(session, project_id)
    await asyncio.to_thread(warehouse.replace_insights, table, project_ids)


async def _insights_table(
    session: AsyncSession, project_id: uuid.UUID | None
) -> tuple[pa.Table, list[str]]:
    rows = await InsightRepository(session).of_project(project_id)
    table = insights_arrow(rows)
    # A project whose last insight went away must still be cleared: name it even with no rows.
    project_ids = sorted(
        {str(row.project_id) for row in rows} | ({str(project_id)} if project_id else set())
    )
    return table, project_ids


async def insights_table(
    session: AsyncSession, project_ids: Sequence[uuid.UUID]
) -> tuple[pa.Table, list[str]]:
    """These projects' insights as the warehouse's rows, and the projects to clear first."""
    tables = []
    for project_id in project_ids:
        table, _ = await _insights_table(session, project_id)
        tables.append(table)
    return pa.concat_tables(tables), sorted(str(project_id) for project_id in project_ids)


async def open_analytics(
    session: AsyncSession, user_id: uuid.UUID, settings: Settings
) -> ScopedReader:
    """A read-only warehouse reader over the user's projects, caught up with the database first.

    Queries on it block: call them from a thread (``asyncio.to_thread``) in async code.
    """
    warehouse = warehouse_for(settings)
    await catch_up(session, warehouse)
    project_ids = await member_project_ids(session, user_id)
    return warehouse.reader(project_ids)


def rebuild_warehouse(settings: Settings) -> SyncResult:
    """Recreate the warehouse from the SQL database (``scriptflow analytics rebuild``)."""
    from sqlalchemy import create_engine

    engine = create_engine(sync_database_url(settings.resolved_database_url))
    warehouse = Warehouse.for_settings(settings)
    try:
        with engine.connect() as connection:
            revisions = extract_revisions(connection)
            return warehouse.rebuild(extract_runs(connection), revisions)
    finally:
        warehouse.close()
        engine.dispose()


def create_warehouse(settings: Settings) -> bool:
    """Create the warehouse's catalog and tables if missing (``scriptflow migrate``)."""
    return create_catalog(LakeLocation.for_settings(settings), LAKE_DDL)


def compact_warehouse(settings: Settings, *, wait: bool = True) -> CompactResult:
    """One compaction of the deployment's warehouse (``scriptflow analytics compact``)."""
    return warehouse_for(settings).compact(wait=wait)
