"""Rollups: run history summed per day and per week (runs) and per week (selectors), and the
newest and oldest runs of each script version and test, kept beside the raw rows.

A dashboard over a year of history should read thousands of rows, not millions. Each rollup is
defined once, by a SELECT over the raw table (``run_days_select``, ``run_weeks_select``,
``selector_weeks_select``, ``version_runs_select``, ``test_runs_select``):

- in the warehouse it is a table the append keeps up to date in the same commit (one more
  INSERT of the new runs' sums per rollup; ``merge`` folds the many one-run rows of a day into
  one at compaction, and ``rebuild`` recomputes it from the raw rows);
- over any other history (the in-memory history of one script, a plain DuckDB file) it is a
  view of that same SELECT (``define_views``).

So the dashboard queries (``queries``) read ``run_days``, ``run_weeks`` and ``selector_weeks``
everywhere and
give the same answers on both paths. A period's rows may be split over several rollup rows
(appends since the last compaction): readers always sum them again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from scriptflow.insights.lake import INLINE_ROWS

RUN_DAYS = "run_days"
RUN_WEEKS = "run_weeks"
SELECTOR_WEEKS = "selector_weeks"
VERSION_RUNS = "version_runs"
TEST_RUNS = "test_runs"
ROLLUP_TABLES = (RUN_DAYS, RUN_WEEKS, SELECTOR_WEEKS, VERSION_RUNS, TEST_RUNS)

# The most runs a window may hold where a window is read from a rollup (fix impact, flakiest
# tests): ``version_runs`` and ``test_runs`` keep this many runs at each end; a larger window
# asked of them counts as this one.
ROLLUP_WINDOW = 100


def capped_window(window: int) -> int:
    """The window a rollup read really uses: ``window`` runs, at most ``ROLLUP_WINDOW``."""
    return min(window, ROLLUP_WINDOW)


_VERSION_RUN = "STRUCT(created_at TIMESTAMP, run UUID, status VARCHAR, ms BIGINT)[]"

ROLLUP_DDL = f"""
CREATE TABLE IF NOT EXISTS run_days (
    day TIMESTAMP NOT NULL,
    project_id UUID NOT NULL,
    script_id UUID NOT NULL,
    environment VARCHAR NOT NULL,
    runs BIGINT NOT NULL,
    passed BIGINT NOT NULL,
    failed BIGINT NOT NULL,
    durations BIGINT[]
);
CREATE TABLE IF NOT EXISTS run_weeks (
    week TIMESTAMP NOT NULL,
    project_id UUID NOT NULL,
    script_id UUID NOT NULL,
    environment VARCHAR NOT NULL,
    runs BIGINT NOT NULL,
    passed BIGINT NOT NULL,
    failed BIGINT NOT NULL,
    timed BIGINT NOT NULL,
    durations BIGINT[],
    p50_ms DOUBLE,
    p95_ms DOUBLE
);
CREATE TABLE IF NOT EXISTS selector_weeks (
    week TIMESTAMP NOT NULL,
    project_id UUID NOT NULL,
    script_id UUID NOT NULL,
    environment VARCHAR NOT NULL,
    browser VARCHAR NOT NULL,
    action VARCHAR,
    locator VARCHAR NOT NULL,
    executions BIGINT NOT NULL,
    failures BIGINT NOT NULL,
    last_seen TIMESTAMP
);
CREATE TABLE IF NOT EXISTS version_runs (
    project_id UUID NOT NULL,
    script_id UUID NOT NULL,
    script_version INTEGER NOT NULL,
    oldest {_VERSION_RUN},
    newest {_VERSION_RUN}
);
CREATE TABLE IF NOT EXISTS test_runs (
    project_id UUID NOT NULL,
    script_id UUID NOT NULL,
    environment VARCHAR NOT NULL,
    browser VARCHAR NOT NULL,
    name VARCHAR,
    newest STRUCT(created_at TIMESTAMP, result TINYINT)[]
);
"""

# Compaction folds the split rows of recent periods only (a full pass over a year of selector
# weeks would cost seconds each time): appends add rows for new runs, and a late catch-up of
# older runs leaves a few extra rows that readers sum anyway.
MERGE_WINDOW = timedelta(days=63)


def run_days_select(table: str = "runs", where: str = "TRUE", unit: str = "'day'") -> str:
    """Decided runs per (``unit``, script, environment): counts and the durations measured.

    ``unit`` is a SQL expression (``'day'`` for the rollup; ``$bucket`` for finer trends).
    """
    return f"""
SELECT date_trunc({unit}, created_at) AS day, project_id, script_id, environment,
       count(*) AS runs,
       count(*) FILTER (WHERE status = 'passed') AS passed,
       count(*) FILTER (WHERE status = 'failed') AS failed,
       coalesce(list(duration_ms) FILTER (WHERE duration_ms IS NOT NULL), []::BIGINT[])
           AS durations
FROM {table}
WHERE status IN ('passed', 'failed') AND ({where})
GROUP BY ALL"""


def run_weeks_select(table: str = "runs", where: str = "TRUE") -> str:
    """Decided runs per (week, script, environment): counts, the durations measured (``timed``
    of them) and their exact p50 and p95 (``quantile_cont``, as the trend computes them). A
    row's quantiles are its own durations': a week split over several rows (appends since the
    last compaction) has its quantiles computed again from the rows' lists by the reader."""
    return f"""
SELECT date_trunc('week', created_at) AS week, project_id, script_id, environment,
       count(*) AS runs,
       count(*) FILTER (WHERE status = 'passed') AS passed,
       count(*) FILTER (WHERE status = 'failed') AS failed,
       count(duration_ms) AS timed,
       coalesce(list(duration_ms) FILTER (WHERE duration_ms IS NOT NULL), []::BIGINT[])
           AS durations,
       quantile_cont(duration_ms, 0.5) AS p50_ms,
       quantile_cont(duration_ms, 0.95) AS p95_ms
FROM {table}
WHERE status IN ('passed', 'failed') AND ({where})
GROUP BY ALL"""


def selector_weeks_select(table: str = "steps", where: str = "TRUE") -> str:
    """Decided executions of each located step per week, script, environment and browser."""
    return f"""
SELECT date_trunc('week', created_at) AS week, project_id, script_id, environment, browser,
       action, locator,
       count(*) AS executions,
       count(*) FILTER (WHERE outcome = 'failed') AS failures,
       max(created_at) AS last_seen
FROM {table}
WHERE outcome IN ('passed', 'failed') AND locator IS NOT NULL AND ({where})
GROUP BY ALL"""


def version_runs_select(table: str = "runs", where: str = "TRUE") -> str:
    """The first and the last ``ROLLUP_WINDOW`` decided runs of each script version (time, run,
    status, duration), oldest first and newest first: the runs that judge a revision."""
    run = "{'created_at': created_at, 'run': run_id::UUID, 'status': status, 'ms': duration_ms}"
    return f"""
SELECT project_id, script_id, script_version,
       min_by({run}, created_at, {ROLLUP_WINDOW}) AS oldest,
       max_by({run}, created_at, {ROLLUP_WINDOW}) AS newest
FROM {table}
WHERE status IN ('passed', 'failed') AND ({where})
GROUP BY ALL"""


def test_runs_select(table: str = "tests", where: str = "TRUE") -> str:
    """The last ``ROLLUP_WINDOW`` outcomes of each test per environment and browser, newest
    first: 0 failed, 1 passed, 2 passed on retry (flaky)."""
    result = "(CASE outcome WHEN 'failed' THEN 0 WHEN 'flaky' THEN 2 ELSE 1 END)::TINYINT"
    outcome = f"{{'created_at': created_at, 'result': {result}}}"
    return f"""
SELECT project_id, script_id, environment, browser, name,
       max_by({outcome}, created_at, {ROLLUP_WINDOW}) AS newest
FROM {table}
WHERE outcome IN ('passed', 'failed', 'flaky') AND ({where})
GROUP BY ALL"""


def newest(column: str, window: str = str(ROLLUP_WINDOW)) -> str:
    """SQL: the newest ``window`` entries of a list column summed over rows (newest first)."""
    return f"list_slice(list_reverse_sort(flatten(list({column}))), 1, {window})"


def oldest(column: str, window: str = str(ROLLUP_WINDOW)) -> str:
    """SQL: the oldest ``window`` entries of a list column summed over rows (oldest first)."""
    return f"list_slice(list_sort(flatten(list({column}))), 1, {window})"


_DEFINITIONS = {
    RUN_DAYS: run_days_select,
    RUN_WEEKS: run_weeks_select,
    SELECTOR_WEEKS: selector_weeks_select,
    VERSION_RUNS: version_runs_select,
    TEST_RUNS: test_runs_select,
}
_RAW_TABLE = {
    RUN_DAYS: "runs",
    RUN_WEEKS: "runs",
    SELECTOR_WEEKS: "steps",
    VERSION_RUNS: "runs",
    TEST_RUNS: "tests",
}
# The period column of the rollups summed by period (the others have one row per key once
# merged, and are merged whole: a few thousand keys).
_PERIOD = {RUN_DAYS: "day", RUN_WEEKS: "week", SELECTOR_WEEKS: "week"}
_KEYS = {
    RUN_DAYS: ("day", "project_id", "script_id", "environment"),
    RUN_WEEKS: ("week", "project_id", "script_id", "environment"),
    SELECTOR_WEEKS: (
        "week",
        "project_id",
        "script_id",
        "environment",
        "browser",
        "action",
        "locator",
    ),
    VERSION_RUNS: ("project_id", "script_id", "script_version"),
    TEST_RUNS: ("project_id", "script_id", "environment", "browser", "name"),
}
_MERGED = {
    RUN_DAYS: "sum(runs)::BIGINT AS runs, sum(passed)::BIGINT AS passed, "
    "sum(failed)::BIGINT AS failed, flatten(list(durations)) AS durations",
    RUN_WEEKS: "sum(runs)::BIGINT AS runs, sum(passed)::BIGINT AS passed, "
    "sum(failed)::BIGINT AS failed, sum(timed)::BIGINT AS timed, "
    "flatten(list(durations)) AS durations, "
    # The folded week's own quantiles, from all its durations (exact again).
    "list_aggregate(flatten(list(durations)), 'quantile_cont', 0.5) AS p50_ms, "
    "list_aggregate(flatten(list(durations)), 'quantile_cont', 0.95) AS p95_ms",
    SELECTOR_WEEKS: "sum(executions)::BIGINT AS executions, sum(failures)::BIGINT AS failures, "
    "max(last_seen) AS last_seen",
    VERSION_RUNS: f"{oldest('oldest')} AS oldest, {newest('newest')} AS newest",
    TEST_RUNS: f"{newest('newest')} AS newest",
}


def whole_periods_from(since: datetime | None, unit: Literal["day", "week"]) -> datetime | None:
    """The first period boundary at or after ``since``: rollup rows from there on are wholly in
    scope, and the raw rows between ``since`` and it are read instead (None: no lower bound)."""
    if since is None:
        return None
    start = since.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "week":  # DuckDB's weeks start on Monday, as Python's weekday() counts
        start -= timedelta(days=start.weekday())
    if start == since:
        return start
    return start + (timedelta(days=7) if unit == "week" else timedelta(days=1))


def define_views(connection: Any, present: Sequence[str] = ()) -> None:
    """Each rollup not in ``present`` as a view of its definition over the raw tables visible on
    ``connection`` (the in-memory history, a plain DuckDB file, a scoped reader)."""
    for name, select in _DEFINITIONS.items():
        if name not in present:
            connection.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {select()}")


def append(
    connection: duckdb.DuckDBPyConnection,
    alias: str,
    runs: pa.Table,
    tests: pa.Table,
    steps: pa.Table,
) -> None:
    """Add the sums of newly appended runs (inside the append's transaction)."""
    incoming_rows = {"runs": runs, "tests": tests, "steps": steps}
    for name in ROLLUP_TABLES:
        table = _RAW_TABLE[name]
        rows = incoming_rows[table]
        if rows.num_rows == 0:
            continue
        incoming = f"_rollup_{table}"
        connection.register(incoming, rows)
        try:
            connection.execute(
                f"INSERT INTO {alias}.{name} BY NAME {_DEFINITIONS[name](table=incoming)}"
            )
        finally:
            connection.unregister(incoming)


def recompute_scripts(
    connection: duckdb.DuckDBPyConnection, alias: str, script_ids: Sequence[str], since: datetime
) -> None:
    """Recompute the periods from ``since`` of some scripts from the raw rows (after a re-sync
    replaced runs: sums cannot take a run back out)."""
    if not script_ids:
        return
    for name, select in _DEFINITIONS.items():
        scope = where = "script_id IN (SELECT unnest($ids::UUID[]))"
        params: dict[str, Any] = {"ids": list(script_ids)}
        if (period := _PERIOD.get(name)) is not None:
            scope += f" AND {period} >= date_trunc('{period}', $since::TIMESTAMP)"
            where += f" AND created_at >= date_trunc('{period}', $since::TIMESTAMP)"
            params["since"] = since
        connection.execute(f"DELETE FROM {alias}.{name} WHERE {scope}", params)
        recomputed = select(table=f"{alias}.{_RAW_TABLE[name]}", where=where)
        connection.execute(f"INSERT INTO {alias}.{name} BY NAME {recomputed}", params)


def rebuild(
    connection: duckdb.DuckDBPyConnection,
    alias: str,
    names: Sequence[str] = ROLLUP_TABLES,
    *,
    created: bool = False,
) -> None:
    """Recompute rollups (every one by default) from the raw rows, inside the caller's
    transaction. ``created``: the tables were made in that transaction, and DuckLake sets no
    option of a table before its commit: the lake-wide inlining limit is lowered instead."""
    for name in names:
        connection.execute(f"DELETE FROM {alias}.{name}")
        # A few thousand rows of nested lists would be inlined into the catalog, which took
        # 36 s for version_runs at 1M runs (SQLite catalog, load 18) against 8 s as Parquet.
        _inline_rows(connection, alias, None if created else name, 0)
        select = _DEFINITIONS[name]
        connection.execute(
            f"INSERT INTO {alias}.{name} BY NAME {select(table=f'{alias}.{_RAW_TABLE[name]}')}"
        )
        _inline_rows(connection, alias, None if created else name, INLINE_ROWS)


def _inline_rows(
    connection: duckdb.DuckDBPyConnection, alias: str, table: str | None, rows: int
) -> None:
    """The inlining limit of one table, or (``table`` None) of the whole lake."""
    scope = f", table_name => '{table}'" if table is not None else ""
    connection.execute(f"CALL {alias}.set_option('data_inlining_row_limit', {int(rows)}{scope})")


def merge(connection: duckdb.DuckDBPyConnection, alias: str) -> int:
    """Fold the split rows of each recent period into one (inside the caller's transaction);
    returns how many rows went. Recent: within ``MERGE_WINDOW`` of the newest period (the
    rollups without periods are merged whole)."""
    removed = 0
    for name in ROLLUP_TABLES:
        keys = ", ".join(_KEYS[name])
        where, params = "TRUE", {}
        if (period := _PERIOD.get(name)) is not None:
            [(last,)] = connection.execute(f"SELECT max({period}) FROM {alias}.{name}").fetchall()
            if last is None:
                continue
            where, params = f"{period} >= $since", {"since": last - MERGE_WINDOW}
        merged = f"_merged_{name}"
        # Read out first: one transaction writes to one database, so no temp table here.
        folded = connection.execute(
            f"SELECT {keys}, {_MERGED[name]}, count(*) AS parts FROM {alias}.{name} "
            f"WHERE {where} GROUP BY ALL HAVING count(*) > 1",
            params,
        ).to_arrow_table()
        if folded.num_rows == 0:
            continue
        connection.register(merged, folded)
        try:
            matches = " AND ".join(f"t.{key} IS NOT DISTINCT FROM m.{key}" for key in _KEYS[name])
            connection.execute(f"DELETE FROM {alias}.{name} t USING {merged} m WHERE {matches}")
            # Written as Parquet: folded rows of nested lists are slow in the catalog.
            _inline_rows(connection, alias, name, 0)
            connection.execute(
                f"INSERT INTO {alias}.{name} BY NAME SELECT * EXCLUDE (parts) FROM {merged}"
            )
            _inline_rows(connection, alias, name, INLINE_ROWS)
        finally:
            connection.unregister(merged)
        removed += int(pc.sum(folded.column("parts")).as_py()) - folded.num_rows
    return removed


def earliest(rows: pa.Table) -> datetime:
    """The oldest ``created_at`` of some rows (their first period to recompute)."""
    value: datetime = pc.min(rows.column("created_at")).as_py()
    return value
