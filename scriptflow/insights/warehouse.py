"""The analytics warehouse: a DuckDB file under ``<data_dir>/analytics/`` holding run history.

Why one DuckDB file rather than Parquet files: a finished run is a handful of rows, and appending
them to a DuckDB table is one small transaction (well under 50 ms at 10M step rows), where Parquet
would need one file per run and periodic compaction.

Concurrency: DuckDB lets one process open the file read-write, or any number of processes open it
read-only, never both. The process that owns the warehouse (the API server, or the ``scriptflow
analytics rebuild`` command) keeps one read-write connection; everything else in that process
reads through cursors of it (``ScopedReader``). Another process that finds the file locked gets
``WarehouseBusy``; syncing is best-effort because the SQL database stays the source of truth and
``catch_up`` later appends whatever was missed. Losing the file loses nothing: ``rebuild``
recreates it.
"""

from __future__ import annotations

import functools
import os
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import sqlglot
from sqlglot import exp

from scriptflow.errors import ScriptflowError, ValidationFailed
from scriptflow.insights.extract import RunBatch

SCHEMA_VERSION = "1"
WAREHOUSE_FILE = "warehouse.duckdb"
SCOPED_TABLES = ("runs", "tests", "steps", "revisions", "insights")

_RUN_KEY_COLUMNS = """
    project_id UUID NOT NULL,
    script_id UUID NOT NULL,
    script_version INTEGER NOT NULL,
    environment VARCHAR NOT NULL,
    browser VARCHAR NOT NULL,
    trigger VARCHAR,
    created_at TIMESTAMP NOT NULL"""

DDL = f"""
CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE IF NOT EXISTS runs (
    run_id UUID PRIMARY KEY,
    project_id UUID NOT NULL,
    script_id UUID NOT NULL,
    script_version INTEGER NOT NULL,
    environment VARCHAR NOT NULL,
    browser VARCHAR NOT NULL,
    status VARCHAR NOT NULL,
    trigger VARCHAR,
    created_at TIMESTAMP NOT NULL,
    completed_at TIMESTAMP,
    duration_ms BIGINT,
    error VARCHAR
);
CREATE TABLE IF NOT EXISTS tests (
    run_id UUID NOT NULL,{_RUN_KEY_COLUMNS},
    position INTEGER,
    name VARCHAR,
    outcome VARCHAR,
    attempts INTEGER,
    duration_ms BIGINT,
    error VARCHAR,
    signature VARCHAR
);
CREATE TABLE IF NOT EXISTS steps (
    run_id UUID NOT NULL,{_RUN_KEY_COLUMNS},
    test_position INTEGER,
    position INTEGER,
    attempt INTEGER,
    action VARCHAR,
    locator VARCHAR,
    duration_ms BIGINT,
    outcome VARCHAR,
    error VARCHAR
);
CREATE TABLE IF NOT EXISTS revisions (
    project_id UUID NOT NULL,
    script_id UUID NOT NULL,
    version INTEGER NOT NULL,
    source VARCHAR,
    changeset_id UUID,
    created_at TIMESTAMP
);
CREATE TABLE IF NOT EXISTS insights (
    id UUID PRIMARY KEY,
    project_id UUID NOT NULL,
    script_id UUID,
    type VARCHAR,
    severity VARCHAR,
    status VARCHAR,
    fingerprint VARCHAR,
    occurrences INTEGER,
    summary VARCHAR,
    first_seen TIMESTAMP,
    last_seen TIMESTAMP
);
"""

INSIGHTS_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("project_id", pa.string()),
        ("script_id", pa.string()),
        ("type", pa.string()),
        ("severity", pa.string()),
        ("status", pa.string()),
        ("fingerprint", pa.string()),
        ("occurrences", pa.int32()),
        ("summary", pa.string()),
        ("first_seen", pa.timestamp("us")),
        ("last_seen", pa.timestamp("us")),
    ]
)


class WarehouseBusy(ScriptflowError):
    """Another process holds the warehouse file; the SQL database still has everything."""

    status_code = 503
    code = "ANALYTICS_BUSY"


@dataclass(frozen=True, slots=True)
class SyncResult:
    """What one sync appended."""

    runs: int
    tests: int
    steps: int


def warehouse_path(data_dir: Path) -> Path:
    """Where the warehouse of a data dir lives."""
    return data_dir / "analytics" / WAREHOUSE_FILE


class Warehouse:
    """The read-write owner of one warehouse file in this process."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._connection: duckdb.DuckDBPyConnection | None = None

    @classmethod
    def for_data_dir(cls, data_dir: Path) -> Warehouse:
        """The warehouse of a data dir (not opened until first used)."""
        return cls(warehouse_path(data_dir))

    # -- connection ------------------------------------------------------------------------

    def connection(self) -> duckdb.DuckDBPyConnection:
        """The process's read-write connection, opened (and the schema created) on first use."""
        with self._lock:
            if self._connection is None:
                self._connection = _open_read_write(self.path)
            return self._connection

    def close(self) -> None:
        """Release the file (and its lock) so another process may open it."""
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    @property
    def catalog(self) -> str:
        """DuckDB's catalog name for the file (its stem)."""
        return self.path.stem

    # -- writes ----------------------------------------------------------------------------

    @contextmanager
    def _write_transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The shared connection in one DuckDB transaction, holding the lock until it ends."""
        with self._lock:
            connection = self.connection()
            connection.execute("BEGIN TRANSACTION")
            try:
                yield connection
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise

    def append(self, batch: RunBatch) -> SyncResult:
        """Append finished runs; a run already present is replaced, so syncing is idempotent."""
        if batch.runs.num_rows == 0:
            return SyncResult(0, 0, 0)
        with self._write_transaction() as connection:
            _append(connection, batch)
        return SyncResult(batch.runs.num_rows, batch.tests.num_rows, batch.steps.num_rows)

    def replace_revisions(self, revisions: pa.Table, script_ids: Sequence[str] | None) -> None:
        """Replace the revisions of the given scripts (all when None)."""
        with self._write_transaction() as connection:
            if script_ids is None:
                connection.execute("DELETE FROM revisions")
            else:
                connection.execute(
                    "DELETE FROM revisions WHERE script_id IN (SELECT unnest($ids::UUID[]))",
                    {"ids": list(script_ids)},
                )
            _insert_arrow(connection, "revisions", revisions)

    def replace_insights(self, insights: pa.Table, project_ids: Sequence[str]) -> None:
        """Mirror the SQL insights of some projects, for dashboard queries."""
        with self._write_transaction() as connection:
            connection.execute(
                "DELETE FROM insights WHERE project_id IN (SELECT unnest($ids::UUID[]))",
                {"ids": list(project_ids)},
            )
            _insert_arrow(connection, "insights", insights)

    def known_run_ids(self, run_ids: Sequence[str]) -> set[str]:
        """Which of these runs the warehouse already holds."""
        if not run_ids:
            return set()
        with self._lock:
            rows = (
                self.connection()
                .execute(
                    "SELECT run_id::VARCHAR FROM runs "
                    "WHERE run_id IN (SELECT unnest($ids::UUID[]))",
                    {"ids": list(run_ids)},
                )
                .fetchall()
            )
        return {row[0] for row in rows}

    def latest_completed_at(self) -> Any:
        """The newest completion time synced, the catch-up watermark (None when empty)."""
        with self._lock:
            rows = self.connection().execute("SELECT max(completed_at) FROM runs").fetchall()
        return rows[0][0] if rows else None

    def rebuild(self, batches: Iterable[RunBatch], revisions: pa.Table) -> SyncResult:
        """Recreate the file from scratch in a side file, then swap it in atomically."""
        side = self.path.with_name(self.path.name + ".rebuild")
        for leftover in (side, side.with_name(side.name + ".wal")):
            leftover.unlink(missing_ok=True)
        totals = [0, 0, 0]
        connection = _open_read_write(side)
        try:
            for batch in batches:
                _append(connection, batch, check_existing=False)
                totals[0] += batch.runs.num_rows
                totals[1] += batch.tests.num_rows
                totals[2] += batch.steps.num_rows
            _insert_arrow(connection, "revisions", revisions)
            connection.execute("CHECKPOINT")
        finally:
            connection.close()
        with self._lock:
            self.close()
            # Fails with WarehouseBusy while another process holds the file: never swap under it.
            _open_read_write(self.path).close()
            self.path.with_name(self.path.name + ".wal").unlink(missing_ok=True)
            os.replace(side, self.path)
        return SyncResult(*totals)

    # -- reads -----------------------------------------------------------------------------

    def reader(self, project_ids: Sequence[uuid.UUID | str]) -> ScopedReader:
        """A read-only view of the warehouse limited to these projects."""
        return ScopedReader(self.connection().cursor(), self.catalog, project_ids)


def _open_read_write(path: Path) -> duckdb.DuckDBPyConnection:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        connection = duckdb.connect(str(path))
    except duckdb.IOException as error:
        if "lock" in str(error).lower():
            raise WarehouseBusy(
                "The analytics warehouse is open in another process; try again when it is done",
                details={"file": path.name},
            ) from error
        raise
    connection.execute(DDL)
    connection.execute(
        "INSERT OR REPLACE INTO meta VALUES ('schema_version', $v)", {"v": SCHEMA_VERSION}
    )
    return connection


def _append(
    connection: duckdb.DuckDBPyConnection, batch: RunBatch, *, check_existing: bool = True
) -> None:
    if check_existing:
        ids = batch.runs.column("run_id").to_pylist()
        present = connection.execute(
            "SELECT run_id::VARCHAR FROM runs WHERE run_id IN (SELECT unnest($ids::UUID[]))",
            {"ids": ids},
        ).fetchall()
        if present:
            # A re-sync of a run: drop its old rows first (rare, so the full scan is acceptable).
            again = [row[0] for row in present]
            for table in ("steps", "tests", "runs"):
                connection.execute(
                    f"DELETE FROM {table} WHERE run_id IN (SELECT unnest($ids::UUID[]))",
                    {"ids": again},
                )
    _insert_arrow(connection, "runs", batch.runs)
    _insert_arrow(connection, "tests", batch.tests)
    _insert_arrow(connection, "steps", batch.steps)


def _insert_arrow(connection: duckdb.DuckDBPyConnection, table: str, rows: pa.Table) -> None:
    if rows.num_rows == 0:
        return
    name = f"_incoming_{table}"
    connection.register(name, rows)
    try:
        connection.execute(f"INSERT INTO {table} BY NAME SELECT * FROM {name}")
    finally:
        connection.unregister(name)


# ---------------------------------------------------------------------------------------------
# Scoped, read-only access.

_FORBIDDEN_FUNCTIONS = (
    "read_",
    "glob",
    "sniff_",
    "query",
    "parquet_",
    "iceberg",
    "delta_",
    "getenv",
    "write_",
)


class ScopedReader:
    """Queries over views of the warehouse that only show the given projects' rows.

    The cursor's temporary views shadow the warehouse tables; every query is parsed first and
    must be one SELECT over those views (no catalog-qualified names, no file or table functions),
    so a caller cannot reach other projects' rows or change anything.
    """

    def __init__(
        self,
        cursor: duckdb.DuckDBPyConnection,
        catalog: str,
        project_ids: Sequence[uuid.UUID | str],
    ) -> None:
        self._cursor = cursor
        self.project_ids = [str(uuid.UUID(str(pid))) for pid in project_ids]
        # Validated UUIDs only, so inlining them as literals is safe.
        ids = ", ".join(f"'{pid}'::UUID" for pid in self.project_ids) or "NULL"
        for table in SCOPED_TABLES:
            cursor.execute(
                f'CREATE OR REPLACE TEMP VIEW {table} AS SELECT * FROM "{catalog}".main.{table} '
                f"WHERE project_id IN ({ids})"
            )

    def query(self, sql: str, params: dict[str, Any] | None = None) -> pd.DataFrame:
        """Run one validated SELECT and return a DataFrame."""
        return self.relation(sql, params).df()

    def arrow(self, sql: str, params: dict[str, Any] | None = None) -> pa.Table:
        """Run one validated SELECT and return an Arrow table."""
        return self.relation(sql, params).to_arrow_table()

    def relation(self, sql: str, params: dict[str, Any] | None = None) -> Any:
        """The DuckDB relation of one validated SELECT."""
        ensure_read_only_select(sql)
        return self._cursor.sql(sql, params=params or None)

    def rows(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """Run one validated SELECT and return its rows as tuples."""
        ensure_read_only_select(sql)
        return self._cursor.execute(sql, params or {}).fetchall()

    def close(self) -> None:
        """Drop the cursor."""
        self._cursor.close()

    def __enter__(self) -> ScopedReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@functools.lru_cache(maxsize=512)
def ensure_read_only_select(sql: str) -> None:
    """Reject anything but one SELECT over the scoped views (raises ValidationFailed).

    Cached: parsing takes tens of milliseconds and the named queries repeat.
    """
    try:
        statements = [s for s in sqlglot.parse(sql, read="duckdb") if s is not None]
    except sqlglot.errors.ParseError as error:
        raise ValidationFailed("The query does not parse", details={"error": str(error)}) from None
    if len(statements) != 1 or not isinstance(statements[0], exp.Query):
        raise ValidationFailed("Only one SELECT query is allowed")
    tree = statements[0]
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    for table in tree.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            raise ValidationFailed("Table functions are not allowed in analytics queries")
        if table.args.get("db") or table.args.get("catalog"):
            raise ValidationFailed("Qualified table names are not allowed in analytics queries")
        name = table.name.lower()
        if name not in SCOPED_TABLES and name not in ctes:
            raise ValidationFailed(
                f"Unknown table {table.name!r}", details={"tables": list(SCOPED_TABLES)}
            )
    for function in tree.find_all(exp.Func):
        name = function.sql_name() if not isinstance(function, exp.Anonymous) else function.name
        if name.lower().startswith(_FORBIDDEN_FUNCTIONS):
            raise ValidationFailed(f"Function {name} is not allowed in analytics queries")
