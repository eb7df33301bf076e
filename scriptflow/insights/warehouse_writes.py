"""The warehouse's row-level writes: appends (with the "already there?" check and the rollups
kept in the same transaction), replacements of revisions and insights. Each runs inside a
DuckLake transaction that ``Warehouse`` opens under the deployment's writer lock."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from scriptflow.insights import rollups
from scriptflow.insights.extract import RunBatch


def replace_insights(
    connection: duckdb.DuckDBPyConnection,
    alias: str,
    insights: pa.Table,
    project_ids: Sequence[str],
) -> None:
    delete_where_in(connection, alias, "insights", "project_id", project_ids)
    insert_arrow(connection, alias, "insights", insights)


def concat_batches(batches: Iterable[RunBatch]) -> RunBatch:
    """Several batches of runs as one (one insert per table, one commit)."""
    items = list(batches)
    if len(items) == 1:
        return items[0]
    return RunBatch(
        pa.concat_tables([b.runs for b in items]),
        pa.concat_tables([b.tests for b in items]),
        pa.concat_tables([b.steps for b in items]),
    )


def delete_where_in(
    connection: duckdb.DuckDBPyConnection,
    alias: str,
    table: str,
    column: str,
    ids: Sequence[str],
) -> None:
    if ids:
        connection.execute(
            f"DELETE FROM {alias}.{table} WHERE {column} IN (SELECT unnest($ids::UUID[]))",
            {"ids": list(ids)},
        )


def replace_revisions(
    connection: duckdb.DuckDBPyConnection,
    alias: str,
    revisions: pa.Table,
    script_ids: Sequence[str] | None,
) -> None:
    if script_ids is None:
        connection.execute(f"DELETE FROM {alias}.revisions")
    else:
        delete_where_in(connection, alias, "revisions", "script_id", script_ids)
    insert_arrow(connection, alias, "revisions", revisions)


def append(
    connection: duckdb.DuckDBPyConnection,
    alias: str,
    batch: RunBatch,
    *,
    check_existing: bool = True,
    only_missing: bool = False,
) -> None:
    """Insert a batch's rows; with ``check_existing``, replace runs already there (or, with
    ``only_missing``, leave them and insert the others) and keep the rollups up to date (a
    rebuild recomputes them once at the end instead)."""
    present: list[tuple[Any, ...]] = []
    oldest = None
    if check_existing:
        ids = batch.runs.column("run_id").to_pylist()
        # A run's created_at never changes: bounding the scan by it lets DuckLake skip every
        # data file of older history by its min/max statistics instead of reading all run ids.
        earliest = pc.min(batch.runs.column("created_at")).as_py()
        present = connection.execute(
            f"SELECT run_id::VARCHAR FROM {alias}.runs "
            "WHERE created_at >= $earliest AND run_id IN (SELECT unnest($ids::UUID[]))",
            {"ids": ids, "earliest": earliest},
        ).fetchall()
        if present and only_missing:
            keep = pa.array([row[0] for row in present], pa.string())
            batch = RunBatch(*(without_runs(getattr(batch, t), keep) for t in RUN_TABLES))
            present = []
            if batch.runs.num_rows == 0:
                return
        if present:
            # A re-sync of a run: drop its old rows first (rare, so the scan is acceptable).
            again = [row[0] for row in present]
            # Their old created_at bounds the rollup periods to recompute as well as the new.
            [(oldest,)] = connection.execute(
                f"SELECT min(created_at) FROM {alias}.runs "
                "WHERE run_id IN (SELECT unnest($ids::UUID[]))",
                {"ids": again},
            ).fetchall()
            for table in ("steps", "tests", "runs"):
                delete_where_in(connection, alias, table, "run_id", again)
    insert_arrow(connection, alias, "runs", batch.runs)
    insert_arrow(connection, alias, "tests", batch.tests)
    insert_arrow(connection, alias, "steps", batch.steps)
    if not check_existing:
        return
    if present:
        scripts = sorted(set(batch.runs.column("script_id").to_pylist()))
        since = rollups.earliest(batch.runs)
        rollups.recompute_scripts(connection, alias, scripts, min(since, oldest or since))
    else:
        rollups.append(connection, alias, batch.runs, batch.tests, batch.steps)


RUN_TABLES = ("runs", "tests", "steps")


def without_runs(rows: pa.Table, run_ids: pa.Array) -> pa.Table:
    """The rows of runs other than these."""
    ids = pc.cast(rows.column("run_id"), pa.string())
    return rows.filter(pc.invert(pc.is_in(ids, value_set=run_ids)))


def insert_arrow(
    connection: duckdb.DuckDBPyConnection, alias: str, table: str, rows: pa.Table
) -> None:
    if rows.num_rows == 0:
        return
    name = f"_incoming_{table}"
    connection.register(name, rows)
    try:
        connection.execute(f"INSERT INTO {alias}.{table} BY NAME SELECT * FROM {name}")
    finally:
        connection.unregister(name)
