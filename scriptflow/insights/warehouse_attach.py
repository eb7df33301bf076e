"""Attaching the lake in this process: the catalog made if missing, rollups added to an older
catalog, and a catalog locked past SQLite's busy wait tried again.

On the embedded default the catalog is a SQLite file in rollback-journal mode (``lake.py``): a
reader waits up to 5 s (DuckDB's sqlite extension, and Python's ``sqlite3`` for the look whether
the catalog exists) for another connection's commit. On a
starved machine a commit has taken longer, and the first look after an attach failed with
"database is locked"; that look is read-only, so it is simply made again.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import time

import duckdb

from scriptflow.insights import rollups
from scriptflow.insights.lake import (
    AnalyticsUnavailable,
    LakeLocation,
    catalog_locked,
    create_catalog,
)
from scriptflow.insights.warehouse_schema import LAKE_DDL

log = logging.getLogger(__name__)

# Looks in all (each may wait SQLite's 5 s), and the pause before the next, times the attempt.
LOCKED_ATTEMPTS = 3
LOCKED_PAUSE_S = 0.2


def attach_warehouse(location: LakeLocation, alias: str) -> duckdb.DuckDBPyConnection:
    """A connection of this process's DuckDB with the lake attached as ``alias``, its rollups
    present. A catalog still locked after the last attempt is ``AnalyticsUnavailable`` (503),
    never a raw engine error."""
    for attempt in range(1, LOCKED_ATTEMPTS + 1):
        connection = None
        try:
            # A no-op once ``scriptflow migrate`` ran.
            create_catalog(location, LAKE_DDL, alias)
            connection = location.attach(alias)
            _ensure_rollups(connection, location, alias)
            return connection
        except (duckdb.Error, sqlite3.OperationalError, AnalyticsUnavailable) as error:
            if connection is not None:
                _detach(connection, alias)
            if not _locked(error):
                raise
            if attempt == LOCKED_ATTEMPTS:
                raise AnalyticsUnavailable(
                    "The analytics catalog stayed locked by another connection",
                    details={"reason": "catalog locked", "attempts": attempt},
                ) from None
            log.warning("analytics catalog locked on attach (attempt %d); trying again", attempt)
            time.sleep(LOCKED_PAUSE_S * attempt)
        except BaseException:
            if connection is not None:
                _detach(connection, alias)
            raise
    raise AssertionError("unreachable")


def _locked(error: Exception) -> bool:
    if isinstance(error, AnalyticsUnavailable):
        return error.details.get("reason") == "catalog locked"
    return catalog_locked(error)


def _ensure_rollups(
    connection: duckdb.DuckDBPyConnection, location: LakeLocation, alias: str
) -> None:
    """Add the rollup tables to a catalog made before them, filled from the raw rows (in the
    transaction that creates them: no reader sees one empty)."""
    if _missing_rollups(connection, alias):
        with location.writer_lock().hold():
            if missing := _missing_rollups(connection, alias):
                connection.execute("BEGIN TRANSACTION")
                try:
                    connection.execute(f"USE {alias}")
                    connection.execute(rollups.ROLLUP_DDL)
                    connection.execute("USE memory")
                    rollups.rebuild(connection, alias, missing, created=True)
                    connection.execute("COMMIT")
                except BaseException:
                    connection.execute("ROLLBACK")
                    connection.execute("USE memory")
                    raise


def _missing_rollups(connection: duckdb.DuckDBPyConnection, alias: str) -> list[str]:
    """The rollup tables the lake lacks (a catalog made before them). Looked up by name:
    duckdb_tables() lists every attached database's tables, the lake's PostgreSQL catalog
    included (over a second under load)."""
    missing = []
    for name in rollups.ROLLUP_TABLES:
        # Each look in a transaction of its own, rolled back: after an autocommit look, this
        # connection kept the lake's SQLite catalog locked while it sat idle, and every other
        # connection's lake commit failed with "database is locked".
        connection.execute("BEGIN TRANSACTION")
        try:
            connection.execute(f"SELECT 1 FROM {alias}.main.{name} LIMIT 0")
        except duckdb.CatalogException:
            missing.append(name)
        finally:
            connection.execute("ROLLBACK")
    return missing


def _detach(connection: duckdb.DuckDBPyConnection, alias: str) -> None:
    """Undo an attach that failed half-way: the alias is free for the next attempt."""
    with contextlib.suppress(duckdb.Error):
        connection.execute("USE memory")
        connection.execute(f"DETACH DATABASE IF EXISTS {alias}")
    connection.close()
