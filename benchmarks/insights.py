"""Insights benchmark: the DuckLake warehouse, a single DuckDB file and SQLite on one history.

    python benchmarks/insights.py [--runs 1000000] [--steps-per-run 10] [--workdir DIR]

The DuckLake warehouse is the one the product uses: its catalog in a throw-away PostgreSQL
cluster (the scale-out deployment), its Parquet files under the work dir. The single DuckDB file
is what the warehouse was before DuckLake (one process only).

Generates (vectorised, inside DuckDB) a history of ``--runs`` finished runs over 180 days in 20
projects and 2,000 scripts, one test per run and ``--steps-per-run`` steps per test, with flaky
scripts, a locator that fails intermittently, environment-specific failures and slow-step
regressions planted in it. The same rows are copied into SQLite (streamed in Arrow batches, with
indexes on the filtered columns). Then, in one run, it times:

- the full insight recomputation (every analysis query plus the rules) through DuckDB, and the
  same analysis queries in SQLite;
- each named dashboard query (``scriptflow.insights.queries``) in DuckDB and in SQLite;
- the incremental sync of one finished run (1 test, N steps) into the full warehouse, from 4
  writer processes at once (DuckLake), and from one writer into the single file.

Every figure is the best of two runs on each engine. SQLite has no quantile function, so the
SQLite side registers a Python aggregate for it, as an application on SQLite would have to.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pyarrow as pa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scriptflow.config import Settings  # noqa: E402
from scriptflow.insights import queries, result_cache  # noqa: E402
from scriptflow.insights.analysis import AnalysisTimings, analysis_params, compute_findings  # noqa: E402
from scriptflow.insights.extract import RUNS_SCHEMA, STEPS_SCHEMA, TESTS_SCHEMA, RunBatch  # noqa: E402
from scriptflow.insights.scoped_reader import ScopedReader  # noqa: E402
from scriptflow.insights.thresholds import Thresholds  # noqa: E402
from scriptflow.insights.warehouse import Warehouse  # noqa: E402
from scriptflow.insights.warehouse_schema import DDL  # noqa: E402

START = datetime(2026, 5, 1)
DAYS = 180
SCRIPTS = 500
PROJECTS = 10
# Each timing is the best of this many runs, on both engines (the machine may be shared).
REPEAT = 2
# Processes appending runs at once in the append benchmark.
WRITERS = 4

GENERATE_SQL = """
CREATE TEMP TABLE gen AS
-- Ids are hashed once per run here, not once per step row below.
SELECT i, s, env, browser, u, created_at,
       md5('run' || i)::UUID AS run_id, md5('project' || (s % {projects}))::UUID AS project_id,
       md5('script' || s)::UUID AS script_id, 1 + (i * 4 // $n)::INT AS version,
       CASE WHEN (s % 50 = 0 AND u < 0.3)
              OR (s % 97 = 1 AND env = 'prod')
              OR u < 0.02 THEN 'failed' ELSE 'passed' END AS status,
       CASE WHEN s % 50 = 0 THEN 3 ELSE $steps - 1 END AS fail_pos,
       s % 40 = 3 AND created_at >= $end - INTERVAL 5 DAY AS slow
FROM (
    SELECT i, hash(i, 's') % {scripts} AS s,
           ['staging', 'prod', 'dev'][1 + (hash(i, 'e') % 3)::INT] AS env,
           CASE WHEN hash(i, 'b') % 10 = 0 THEN 'firefox' ELSE 'chromium' END AS browser,
           (hash(i, 'u') % 10000) / 10000.0 AS u,
           $start + to_microseconds((i * ($days * 86400e6 / $n))::BIGINT) AS created_at
    FROM range($n) r(i)
) ORDER BY i;

INSERT INTO runs
SELECT run_id, project_id, script_id, version, env, browser, status, 'manual', created_at,
       created_at + INTERVAL 20 SECOND,
       2000 + hash(i, 'd') % 3000 + CASE WHEN slow THEN 4000 ELSE 0 END,
       CASE WHEN status = 'failed' THEN 'test failed' END
FROM gen ORDER BY i;

INSERT INTO tests
SELECT run_id, project_id, script_id, version, env, browser, 'manual', created_at,
       0, 'test_main',
       CASE WHEN status = 'failed' THEN 'failed' WHEN hash(i, 'r') % 100 = 0 THEN 'flaky'
            ELSE 'passed' END,
       CASE WHEN hash(i, 'r') % 100 = 0 THEN 2 ELSE 1 END,
       2000 + hash(i, 'd') % 3000,
       CASE WHEN status = 'failed' THEN 'TimeoutError: Locator.click: Timeout ' || (1000 + i % 9000)
            || 'ms exceeded waiting for locator("#s' || s || '-' || fail_pos || '")' END,
       CASE WHEN status = 'failed' THEN 'click #s' || s || '-' || fail_pos
            || ' | TimeoutError: Locator.click: Timeout <t> exceeded waiting for locator("#s' || s
            || '-' || fail_pos || '")' END
FROM gen ORDER BY i;

INSERT INTO steps
SELECT run_id, project_id, script_id, version, env, browser, 'manual', created_at,
       0, pos, 1,
       ['goto', 'fill', 'fill', 'click', 'wait_for', 'click', 'fill', 'click', 'expect',
        'click'][1 + pos % 10],
       CASE WHEN pos = 0 THEN NULL ELSE '#s' || s || '-' || pos END,
       100 + hash(i, pos) % 200 + CASE WHEN slow AND pos = 5 THEN 1500 ELSE 0 END,
       CASE WHEN status = 'failed' AND pos = fail_pos THEN 'failed'
            WHEN status = 'failed' AND pos > fail_pos THEN 'skipped' ELSE 'passed' END,
       CASE WHEN status = 'failed' AND pos = fail_pos THEN 'Timeout exceeded' END
FROM gen, range($steps) p(pos) ORDER BY i, pos;

INSERT INTO revisions
SELECT md5('project' || (s % {projects}))::UUID, md5('script' || s)::UUID, v,
       CASE WHEN v = 1 THEN 'create' ELSE 'changeset' END,
       CASE WHEN v = 1 THEN NULL ELSE md5('cs' || s || '-' || v)::UUID END,
       $start + to_microseconds(((v - 1) * ($days * 86400e6 / 4))::BIGINT)
FROM range({scripts}) a(s), range(1, 5) b(v);

INSERT INTO insights
SELECT md5('insight' || i)::UUID, md5('project' || (i % {projects}))::UUID,
       md5('script' || (i % {scripts}))::UUID,
       ['flaky-test', 'flaky-selector', 'slow-step', 'recurring-failure'][1 + i % 4],
       ['low', 'medium', 'high', 'critical'][1 + (i // 4) % 4],
       CASE WHEN i % 5 = 0 THEN 'resolved' ELSE 'open' END,
       md5('fp' || i), 1 + i % 7, 'synthetic', $start, $end
FROM range(5000) r(i);
DROP TABLE gen;
"""


# ---------------------------------------------------------------------------------------------
# The same queries in SQLite's dialect.

SQLITE_ANALYSIS = {
    "flaky-test": """
WITH latest AS (SELECT script_id, max(script_version) AS version FROM runs
                WHERE created_at >= $since GROUP BY script_id),
ranked AS (
  SELECT t.*, row_number() OVER (PARTITION BY t.script_id, t.environment, t.browser, t.name
                                 ORDER BY t.created_at DESC, t.run_id DESC) AS rn
  FROM tests t JOIN latest l ON t.script_id = l.script_id AND t.script_version = l.version
  WHERE t.created_at >= $since AND t.outcome IN ('passed', 'failed', 'flaky'))
SELECT project_id, script_id, max(script_version), environment, browser, name,
       json_group_array(outcome), json_group_array(run_id),
       sum(outcome = 'flaky'), sum(trigger = 'confirmation'),
       sum(trigger = 'confirmation' AND outcome <> 'passed'), max(created_at)
FROM (SELECT * FROM ranked WHERE rn <= $window ORDER BY created_at, run_id)
GROUP BY project_id, script_id, environment, browser, name
HAVING sum(outcome <> 'passed') > 0""",
    "flaky-selector": """
WITH latest AS (SELECT script_id, max(script_version) AS version FROM runs
                WHERE created_at >= $since GROUP BY script_id),
ranked_runs AS (
  SELECT run_id, row_number() OVER (PARTITION BY script_id, environment, browser
                                    ORDER BY created_at DESC, run_id DESC) AS rn
  FROM runs WHERE created_at >= $since AND status IN ('passed', 'failed'))
SELECT s.project_id, s.script_id, s.script_version, s.environment, s.browser, s.action,
       s.locator, count(*), sum(s.outcome = 'failed'),
       group_concat(DISTINCT CASE WHEN s.outcome = 'failed' THEN s.run_id END),
       max(CASE WHEN s.outcome = 'failed' THEN s.error END)
FROM steps s JOIN latest l ON s.script_id = l.script_id AND s.script_version = l.version
WHERE s.run_id IN (SELECT run_id FROM ranked_runs WHERE rn <= $window)
  AND s.created_at >= $since AND s.locator IS NOT NULL AND s.outcome IN ('passed', 'failed')
GROUP BY s.project_id, s.script_id, s.script_version, s.environment, s.browser, s.action,
         s.locator
HAVING sum(s.outcome = 'failed') > 0""",
    "slow-step": """
WITH ranked_runs AS (
  SELECT run_id, row_number() OVER (PARTITION BY script_id, environment, browser
                                    ORDER BY created_at DESC, run_id DESC) AS rn
  FROM runs WHERE created_at >= $since AND status IN ('passed', 'failed')),
window_runs AS (SELECT run_id, rn <= $recent AS is_recent FROM ranked_runs
                WHERE rn <= $recent + $window)
SELECT s.project_id, s.script_id, s.environment, s.browser, s.action, s.locator,
       quantile_cont(s.duration_ms, 0.95) FILTER (WHERE NOT w.is_recent) AS baseline_p95,
       quantile_cont(s.duration_ms, 0.95) FILTER (WHERE w.is_recent) AS recent_p95,
       sum(NOT w.is_recent), sum(w.is_recent),
       min(s.script_version), max(s.script_version)
FROM steps s JOIN window_runs w ON s.run_id = w.run_id
WHERE s.created_at >= $since AND s.outcome = 'passed'
GROUP BY s.project_id, s.script_id, s.environment, s.browser, s.action, s.locator
HAVING recent_p95 >= baseline_p95 * $min_ratio AND recent_p95 - baseline_p95 >= $min_delta_ms""",
    "recurring-failure": """
WITH ranked_runs AS (
  SELECT run_id, row_number() OVER (PARTITION BY script_id, environment, browser
                                    ORDER BY created_at DESC, run_id DESC) AS rn
  FROM runs WHERE created_at >= $since AND status IN ('passed', 'failed')),
failed AS (
  SELECT t.* FROM tests t
  WHERE t.run_id IN (SELECT run_id FROM ranked_runs WHERE rn <= $window)
    AND t.created_at >= $since AND t.outcome IN ('failed', 'error')
    AND t.signature IS NOT NULL AND t.signature <> ''),
per_script AS (SELECT project_id, signature, script_id, count(*) AS n FROM failed
               GROUP BY project_id, signature, script_id)
SELECT c.project_id, c.signature, c.occurrences,
       (SELECT json_group_array(json_object('script', p.script_id, 'n', p.n)) FROM per_script p
        WHERE p.project_id = c.project_id AND p.signature = c.signature),
       c.environments, c.sample_error, c.first_seen, c.last_seen
FROM (SELECT project_id, signature, count(*) AS occurrences,
             group_concat(DISTINCT environment) AS environments, max(error) AS sample_error,
             min(created_at) AS first_seen, max(created_at) AS last_seen
      FROM failed GROUP BY project_id, signature HAVING count(*) >= $min_occurrences) c""",
    "environment-specific[environment]": """
WITH latest AS (SELECT script_id, max(script_version) AS version FROM runs
                WHERE created_at >= $since GROUP BY script_id),
per AS (
  SELECT r.project_id, r.script_id, r.script_version, r.environment AS value, count(*) AS runs,
         sum(r.status = 'failed') AS failures,
         group_concat(CASE WHEN r.status = 'failed' THEN r.run_id END) AS failed_run_ids
  FROM runs r JOIN latest l ON r.script_id = l.script_id AND r.script_version = l.version
  WHERE r.created_at >= $since AND r.status IN ('passed', 'failed')
  GROUP BY r.project_id, r.script_id, r.script_version, r.environment)
SELECT a.project_id, a.script_id, a.script_version, a.value, a.runs, a.failures, sum(b.runs),
       sum(b.failures), group_concat(b.value), max(a.failed_run_ids)
FROM per a JOIN per b ON a.script_id = b.script_id AND a.value <> b.value
WHERE a.failures > 0
GROUP BY a.project_id, a.script_id, a.script_version, a.value, a.runs, a.failures""",
}
SQLITE_ANALYSIS["environment-specific[browser]"] = (
    SQLITE_ANALYSIS["environment-specific[environment]"]
    .replace("r.environment AS value", "r.browser AS value")
    .replace("r.script_version, r.environment)", "r.script_version, r.browser)")
)

SQLITE_DASHBOARD = {
    "pass_rate_over_time": """
SELECT {bucket} AS bucket, script_id, environment, count(*) AS runs,
       sum(status = 'passed') AS passed, sum(status = 'failed') AS failed,
       avg(status = 'passed') AS pass_rate
FROM runs WHERE status IN ('passed', 'failed')
GROUP BY bucket, script_id, environment ORDER BY bucket, script_id, environment""",
    "duration_trends": """
SELECT {bucket} AS bucket, script_id, environment, count(*) AS runs,
       quantile_cont(duration_ms, 0.5) AS p50_ms, quantile_cont(duration_ms, 0.95) AS p95_ms
FROM runs WHERE status IN ('passed', 'failed') AND duration_ms IS NOT NULL
GROUP BY bucket, script_id, environment ORDER BY bucket, script_id, environment""",
    "flakiest_tests": """
WITH ranked AS (
  SELECT script_id, environment, browser, name, created_at, run_id,
         CASE WHEN outcome = 'failed' THEN 'failed' ELSE 'passed' END AS result,
         outcome = 'flaky' AS retry_pass,
         row_number() OVER (PARTITION BY script_id, environment, browser, name
                            ORDER BY created_at DESC, run_id DESC) AS rn
  FROM tests WHERE outcome IN ('passed', 'failed', 'flaky')),
windowed AS (
  SELECT *, lag(result) OVER (PARTITION BY script_id, environment, browser, name
                              ORDER BY created_at, run_id) AS previous
  FROM ranked WHERE rn <= 30)
SELECT script_id, environment, browser, name AS test_name, count(*) AS runs,
       sum(previous IS NOT NULL AND previous <> result) AS flips,
       CASE WHEN count(*) > 1 THEN sum(previous IS NOT NULL AND previous <> result) * 1.0
            / (count(*) - 1) ELSE 0 END AS flip_rate,
       sum(result = 'failed') AS failures, sum(retry_pass) AS retry_passes,
       max(created_at) AS last_run_at
FROM windowed GROUP BY script_id, environment, browser, name
HAVING flips > 0 OR retry_passes > 0
ORDER BY flip_rate DESC, retry_passes DESC, runs DESC, test_name LIMIT 20""",
    "flakiest_selectors": """
WITH failing AS (SELECT DISTINCT script_id, locator FROM steps
                 WHERE outcome = 'failed' AND locator IS NOT NULL)
SELECT script_id, environment, browser, action, locator, count(*) AS executions,
       sum(outcome = 'failed') AS failures, avg(outcome = 'failed') AS failure_rate,
       max(created_at) AS last_seen
FROM steps WHERE outcome IN ('passed', 'failed')
  AND (script_id, locator) IN (SELECT script_id, locator FROM failing)
GROUP BY script_id, environment, browser, action, locator
HAVING failures > 0 AND failures < executions
ORDER BY failure_rate DESC, executions DESC, locator LIMIT 20""",
    "failure_clusters": """
SELECT signature, count(*) AS occurrences, count(DISTINCT script_id) AS scripts,
       group_concat(DISTINCT script_id) AS script_ids,
       group_concat(DISTINCT environment) AS environments,
       min(created_at) AS first_seen, max(created_at) AS last_seen, max(error) AS sample_error
FROM tests WHERE outcome IN ('failed', 'error') AND signature IS NOT NULL AND signature <> ''
GROUP BY signature ORDER BY occurrences DESC, signature LIMIT 50""",
    "insights_by_type_and_severity": """
SELECT type, severity, status, count(*) AS insights, sum(occurrences) AS occurrences,
       max(last_seen) AS last_seen
FROM insights GROUP BY type, severity, status ORDER BY type, severity, status""",
    "fix_impact": """
WITH accepted AS (
  SELECT script_id, version, changeset_id, created_at AS accepted_at FROM revisions
  WHERE source = 'changeset'),
sides AS (
  SELECT a.script_id, a.version, r.status, r.duration_ms, r.created_at, r.run_id,
         r.script_version = a.version AS after,
         row_number() OVER (PARTITION BY a.script_id, a.version, r.script_version = a.version
                            ORDER BY CASE WHEN r.script_version = a.version
                                          THEN julianday(r.created_at)
                                          ELSE -julianday(r.created_at) END) AS rn
  FROM accepted a JOIN runs r ON r.script_id = a.script_id
   AND r.script_version IN (a.version - 1, a.version) AND r.status IN ('passed', 'failed')),
ordered AS (
  SELECT *, lag(status) OVER (PARTITION BY script_id, version, after
                              ORDER BY created_at, run_id) AS previous
  FROM sides WHERE rn <= 30),
metrics AS (
  SELECT script_id, version, after, count(*) AS runs, avg(status = 'passed') AS pass_rate,
         CASE WHEN count(*) > 1 THEN sum(previous <> status) * 1.0 / (count(*) - 1)
              ELSE 0 END AS flip_rate,
         quantile_cont(duration_ms, 0.95) AS p95_ms
  FROM ordered GROUP BY script_id, version, after)
SELECT a.script_id, a.version, a.changeset_id, a.accepted_at,
       b.runs, b.pass_rate, b.flip_rate, b.p95_ms, f.runs, f.pass_rate, f.flip_rate, f.p95_ms
FROM accepted a
LEFT JOIN metrics b ON b.script_id = a.script_id AND b.version = a.version AND NOT b.after
LEFT JOIN metrics f ON f.script_id = a.script_id AND f.version = a.version AND f.after
ORDER BY a.accepted_at DESC""",
}

# SQLite's buckets: the day, or the Monday on or before it (DuckDB's weeks start on Monday).
SQLITE_BUCKETS = {
    "day": "substr(created_at, 1, 10)",
    "week": "date(created_at, '-6 days', 'weekday 1')",
}


def sqlite_dashboard(name: str, bucket: str) -> str:
    """A dashboard query in SQLite's dialect (a trend grouped by ``bucket``)."""
    return SQLITE_DASHBOARD[name].replace("{bucket}", SQLITE_BUCKETS.get(bucket, "{bucket}"))


SQLITE_DDL = """
CREATE TABLE runs (run_id TEXT PRIMARY KEY, project_id TEXT, script_id TEXT,
    script_version INTEGER, environment TEXT, browser TEXT, status TEXT, trigger TEXT,
    created_at TEXT, completed_at TEXT, duration_ms INTEGER, error TEXT);
CREATE TABLE tests (run_id TEXT, project_id TEXT, script_id TEXT, script_version INTEGER,
    environment TEXT, browser TEXT, trigger TEXT, created_at TEXT, position INTEGER, name TEXT,
    outcome TEXT, attempts INTEGER, duration_ms INTEGER, error TEXT, signature TEXT);
CREATE TABLE steps (run_id TEXT, project_id TEXT, script_id TEXT, script_version INTEGER,
    environment TEXT, browser TEXT, trigger TEXT, created_at TEXT, test_position INTEGER,
    position INTEGER, attempt INTEGER, action TEXT, locator TEXT, duration_ms INTEGER,
    outcome TEXT, error TEXT);
CREATE TABLE revisions (project_id TEXT, script_id TEXT, version INTEGER, source TEXT,
    changeset_id TEXT, created_at TEXT);
CREATE TABLE insights (id TEXT, project_id TEXT, script_id TEXT, type TEXT, severity TEXT,
    status TEXT, fingerprint TEXT, occurrences INTEGER, summary TEXT, first_seen TEXT,
    last_seen TEXT);
"""
SQLITE_INDEXES = """
CREATE INDEX ix_runs_created ON runs (created_at);
CREATE INDEX ix_runs_script ON runs (script_id, created_at);
CREATE INDEX ix_tests_created ON tests (created_at);
CREATE INDEX ix_tests_run ON tests (run_id);
CREATE INDEX ix_steps_run ON steps (run_id);
CREATE INDEX ix_steps_created ON steps (created_at);
"""


class QuantileCont:
    """SQLite has no quantile aggregate: the Python one an application would register."""

    def __init__(self) -> None:
        self.values: list[float] = []
        self.q = 0.5

    def step(self, value: float | None, q: float) -> None:
        if value is not None:
            self.values.append(value)
        self.q = q

    def finalize(self) -> float | None:
        if not self.values:
            return None
        ordered = sorted(self.values)
        position = (len(ordered) - 1) * self.q
        low, high = math.floor(position), math.ceil(position)
        return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def cold(query: Callable[[Any], Any], reader: Any) -> Any:
    """``query`` with the process's result cache emptied first (the lake is read)."""
    result_cache.RESULTS.clear()
    return query(reader)


def timed(fn: Callable[[], Any], repeat: int = 1) -> tuple[float, Any]:
    """Best wall-clock seconds of ``repeat`` calls, and the last result."""
    best, result = math.inf, None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - started)
    return best, result


def generate(connection: Any, n: int, steps: int, end: datetime) -> None:
    sql = GENERATE_SQL.format(scripts=SCRIPTS, projects=PROJECTS)
    connection.execute(DDL)
    params = {"n": n, "steps": steps, "start": START, "end": end, "days": DAYS}
    for statement in [s for s in sql.split(";") if s.strip()]:
        names = {name for name in params if f"${name}" in statement}
        connection.execute(statement, {name: params[name] for name in names})
    connection.execute("CHECKPOINT")


def copy_to_sqlite(connection: Any, path: Path) -> None:
    """The history into a throw-away SQLite file, fast: the tables made and tuned by sqlite3
    (``journal_mode=OFF``, ``synchronous=OFF``: this file is rebuilt whenever it is needed),
    then each table written by DuckDB's sqlite extension in one statement, which is one SQLite
    transaction of prepared inserts (no Python objects per row), then the indexes."""
    from scriptflow.insights.duckdb_extensions import load_extensions

    db = sqlite3.connect(path)
    db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + SQLITE_DDL)
    db.close()
    cursor = connection.cursor()
    load_extensions(cursor, "sqlite")
    cursor.execute(f"ATTACH '{path}' AS lite (TYPE sqlite)")
    try:
        for table in ("runs", "tests", "steps", "revisions", "insights"):
            columns = [row[0] for row in cursor.execute(f"DESCRIBE {table}").fetchall()]
            select = ", ".join(
                f"strftime({c}, '%Y-%m-%d %H:%M:%S.%f')"
                if c in ("created_at", "completed_at", "first_seen", "last_seen")
                else f"{c}::VARCHAR"
                if c.endswith("_id") or c == "id"
                else c
                for c in columns
            )
            cursor.execute(f"INSERT INTO lite.{table} SELECT {select} FROM {table}")
    finally:
        cursor.execute("DETACH lite")
        cursor.close()
    db = sqlite3.connect(path)
    db.executescript(
        "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + SQLITE_INDEXES + "ANALYZE;"
    )
    db.close()


def one_run_batch(end: datetime, steps: int, run_id: str | None = None) -> RunBatch:
    run_id = run_id or str(uuid.uuid4())
    keys = {
        "project_id": str(uuid.UUID(bytes=b"\x01" * 16)),
        "script_id": str(uuid.UUID(bytes=b"\x02" * 16)),
        "script_version": 1,
        "environment": "staging",
        "browser": "chromium",
        "trigger": "manual",
        "created_at": end,
    }
    run = {
        "run_id": run_id,
        **keys,
        "status": "passed",
        "completed_at": end,
        "duration_ms": 2500,
        "error": None,
    }
    test = {
        "run_id": run_id,
        **keys,
        "position": 0,
        "name": "test_main",
        "outcome": "passed",
        "attempts": 1,
        "duration_ms": 2400,
        "error": None,
        "signature": None,
    }
    step_rows = [
        {
            "run_id": run_id,
            **keys,
            "test_position": 0,
            "position": pos,
            "attempt": 1,
            "action": "click",
            "locator": f"#b{pos}",
            "duration_ms": 120,
            "outcome": "passed",
            "error": None,
        }
        for pos in range(steps)
    ]
    return RunBatch(
        runs=pa.Table.from_pylist([run], schema=RUNS_SCHEMA),
        tests=pa.Table.from_pylist([test], schema=TESTS_SCHEMA),
        steps=pa.Table.from_pylist(step_rows, schema=STEPS_SCHEMA),
    )


# A process enqueueing finished runs as a worker's RunFinished handler does: one INSERT (and a
# NOTIFY) in the SQL database per run, paced like runs finishing on a busy deployment.
WRITER = """
import asyncio, json, sys, time, uuid
sys.path.insert(0, {root!r})
from scriptflow.config import Settings
from scriptflow.db.engine import create_engine, create_sessionmaker, transaction
from scriptflow.insights.warehouse_drain import enqueue_runs

async def main():
    settings = Settings.model_validate({{"DATABASE_URL": {url!r}, "data_dir": {data!r}}})
    engine = create_engine(settings.resolved_database_url)
    sessionmaker = create_sessionmaker(engine)
    async with transaction(sessionmaker) as session:  # connect before the clock starts
        await enqueue_runs(session, [])
    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.readline)
    laps, enqueued = [], {{}}
    for _ in range({count}):
        run_id = uuid.uuid4()
        started = time.perf_counter()
        async with transaction(sessionmaker) as session:
            await enqueue_runs(session, [run_id])
        laps.append(time.perf_counter() - started)
        enqueued[str(run_id)] = time.time()
        await asyncio.sleep({pace})
    await engine.dispose()
    print(json.dumps({{"laps": laps, "enqueued": enqueued}}), flush=True)

asyncio.run(main())
"""

# The deployment's one lake writer, in a process of its own. The SQL database of the benchmark
# holds no runs, so its extraction makes each queued run's rows (1 test, N steps) instead of
# reading them: the lake side is the product's, the SQL read of a few rows per run is left out.
DRAINER = """
import asyncio, json, sys
sys.path.insert(0, {root!r})
from datetime import datetime
from benchmarks.insights import one_run_batch
from scriptflow.config import Settings
from scriptflow.db.engine import create_engine, create_sessionmaker
from scriptflow.insights import warehouse_drain
from scriptflow.insights.warehouse import Warehouse

sizes = []

async def main():
    settings = Settings.model_validate({{"DATABASE_URL": {url!r}, "data_dir": {data!r}}})
    engine = create_engine(settings.resolved_database_url)
    warehouse = Warehouse.for_settings(settings)
    end = datetime.fromisoformat({end!r})

    async def extract(run_ids):
        sizes.append(len(run_ids))
        return [one_run_batch(end, {steps}, str(run_id)) for run_id in run_ids]

    drain = warehouse_drain.WarehouseDrain(
        create_sessionmaker(engine), warehouse, every_s={every}, extract=extract)
    stop = asyncio.Event()
    task = asyncio.create_task(drain.run(stop))
    while not drain.election.held:
        await asyncio.sleep(0.05)
    await asyncio.to_thread(warehouse.connection)
    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.readline)
    stop.set()
    await task
    warehouse.close()
    await engine.dispose()
    print(json.dumps(sizes), flush=True)

asyncio.run(main())
"""
# Runs each writer enqueues, and the pause after each (4 writers: about 30 runs a second).
RUNS_PER_WRITER = 50
WRITER_PACE_S = 0.1


@dataclass
class QueuedAppends:
    """The append as a queue: what a writer waits for, and when readers see the run."""

    enqueue: list[float]
    visible: list[float]
    batch_sizes: list[int]


def queued_appends(
    warehouse: Warehouse, url: str, data: Path, end: datetime, steps: int
) -> QueuedAppends:
    """WRITERS processes enqueue runs at once; one drain process appends them; this process
    reads the lake every 50 ms and notes when each run first shows (to within those 50 ms)."""
    import subprocess

    every = Settings().analytics_drain_every_s

    def start(code: str) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert process.stdout is not None and process.stdout.readline().strip() == "ready"
        return process

    drainer = start(
        DRAINER.format(
            root=str(ROOT), url=url, data=str(data), end=end.isoformat(), steps=steps, every=every
        )
    )
    writers = [
        start(WRITER.format(root=str(ROOT), url=url, data=str(data), count=RUNS_PER_WRITER,
                            pace=WRITER_PACE_S))
        for _ in range(WRITERS)
    ]  # fmt: skip
    seen: dict[str, float] = {}
    cursor = warehouse.connection().cursor()
    before = {
        row[0]
        for row in cursor.execute(
            f"SELECT run_id::VARCHAR FROM {warehouse.alias}.runs WHERE created_at >= $end",
            {"end": end},
        ).fetchall()
    }
    for writer in writers:  # go together
        assert writer.stdin is not None
        writer.stdin.write("go\n")
        writer.stdin.flush()
    expected = WRITERS * RUNS_PER_WRITER
    deadline = time.monotonic() + 300
    while len(seen) < expected and time.monotonic() < deadline:
        rows = cursor.execute(
            f"SELECT run_id::VARCHAR FROM {warehouse.alias}.runs WHERE created_at >= $end",
            {"end": end},
        ).fetchall()
        now = time.time()
        for (run_id,) in rows:
            if run_id not in before:
                seen.setdefault(run_id, now)
        time.sleep(0.05)  # the poll is a lake query: more often would take the writers' CPU
    cursor.close()
    laps: list[float] = []
    enqueued: dict[str, float] = {}
    for writer in writers:
        out, _ = writer.communicate(timeout=600)
        result = json.loads(out.strip().splitlines()[-1])
        laps += result["laps"]
        enqueued.update(result["enqueued"])
    out, _ = drainer.communicate("stop\n", timeout=120)
    sizes = json.loads(out.strip().splitlines()[-1])
    assert set(seen) == set(enqueued), f"{len(set(enqueued) - set(seen))} runs never showed"
    visible = [seen[run_id] - at for run_id, at in enqueued.items()]
    return QueuedAppends(laps, visible, sizes)


def profile_dashboard_cell(warehouse: Warehouse, end: datetime) -> None:
    """The dashboard's 30-day query cell on the lake, each query timed inside the cell's run
    (a cold round, then two warm ones)."""
    with warehouse.reader(
        [
            row[0]
            for row in warehouse.connection()
            .execute(f"SELECT DISTINCT project_id::VARCHAR FROM {warehouse.alias}.runs")
            .fetchall()
        ]
    ) as reader:
        since = end - timedelta(days=30)
        bucket = queries.bucket_for_span(queries.history_span(reader, since=since))
        cell: dict[str, Callable[[Any], Any]] = {
            "history_span": partial(queries.history_span, since=since),
            "pass_rate_over_time": partial(queries.pass_rate_over_time, since=since, bucket=bucket),
            "duration_trends": partial(queries.duration_trends, since=since, bucket=bucket),
            "flakiest_tests": partial(queries.flakiest_tests, since=since),
            "flakiest_selectors": partial(queries.flakiest_selectors, since=since),
            "failure_clusters": partial(queries.failure_clusters, since=since),
            "fix_impact": queries.fix_impact,
        }
        print(f"\nthe dashboard's 30-day query cell on DuckLake (per {bucket}), query by query:")
        for label in ("cold", "warm", "warm"):
            laps, started = [], time.perf_counter()
            for name, query in cell.items():
                lap = time.perf_counter()
                query(reader)
                laps.append(f"{name} {time.perf_counter() - lap:.2f}")
            print(f"  {label}: {time.perf_counter() - started:.2f} s = " + ", ".join(laps))


def time_appends(warehouse: Warehouse, url: str, workdir: Path, end: datetime, steps: int) -> None:
    """The queued appends from WRITERS processes, then a compaction."""
    print(f"\nincremental sync of one finished run (1 test, {steps} steps):")
    appends = queued_appends(warehouse, url, workdir / "writers", end, steps)
    text, p95 = percentiles(appends.enqueue)
    goal = "ok" if p95 < 0.05 else "MISSED"
    print(
        f"  append = enqueue, {WRITERS} writer processes at once "
        f"({len(appends.enqueue)} runs, one every {WRITER_PACE_S * 1000:.0f} ms each): {text}  "
        f"{goal} (the goal, append p95 < 50 ms, read as this: the writer's cost)"
    )
    text, _ = percentiles(appends.visible)
    sizes = sorted(appends.batch_sizes)
    print(
        f"  enqueue -> visible to a reader in another process (the lag): {text}; "
        f"{len(sizes)} lake commits of {sizes[0]}-{sizes[-1]} runs "
        f"(median {statistics.median(sizes):.0f})"
    )
    compacted = warehouse.compact(wait=True)
    print(
        f"  then compaction: {compacted.seconds:.2f} s ({compacted.inlined_rows_before} inlined "
        f"rows written out; {compacted.files_before} → {compacted.files_after} data files)"
    )


def percentiles(samples: list[float]) -> tuple[str, float]:
    """A printable median/p95/max, and the p95 in seconds."""
    ordered = sorted(samples)
    p95 = ordered[max(int(len(ordered) * 0.95) - 1, 0)]
    text = (
        f"median {statistics.median(ordered) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms, "
        f"max {ordered[-1] * 1000:.1f} ms"
    )
    return text, p95


def main() -> None:
    import duckdb

    from tests.support.postgres import start_cluster

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--steps-per-run", type=int, default=10)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument(
        "--appends-only", action="store_true", help="time only the queued appends (and compaction)"
    )
    parser.add_argument(
        "--reuse", action="store_true", help="keep the history an earlier run left in --workdir"
    )
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="insights-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    end = START + timedelta(days=DAYS)
    single_path = workdir / "single.duckdb"
    sqlite_path = workdir / "history.sqlite"
    n, steps = args.runs, args.steps_per_run
    reuse = args.reuse and single_path.exists()
    for leftover in (single_path, sqlite_path):
        if not (reuse and leftover.exists()):
            leftover.unlink(missing_ok=True)
    single = duckdb.connect(str(single_path))
    single.execute("SET memory_limit = '3GB'")
    if reuse:
        print(f"reusing the history in {single_path}")
    else:
        seconds, _ = timed(lambda: generate(single, n, steps, end))
        print(f"generated in a single DuckDB file in {seconds:.1f} s")
    if not args.skip_sqlite and not sqlite_path.exists():
        seconds, _ = timed(lambda: copy_to_sqlite(single, sqlite_path))
        print(f"copied to SQLite (with indexes) in {seconds:.1f} s")
    single.close()

    cluster = start_cluster()
    try:
        from scriptflow.db import migrate

        migrate.upgrade(cluster.url)  # the warehouse queue lives in the SQL database
        settings = Settings.model_validate(
            {"DATABASE_URL": cluster.url, "data_dir": workdir / "lake-data"}
        )
        warehouse = Warehouse.for_settings(settings)
        lake = warehouse.connection()
        lake.execute(f"ATTACH '{single_path}' AS single (READ_ONLY)")

        def copy_to_lake() -> None:
            lake.execute("BEGIN TRANSACTION")
            for table in ("runs", "tests", "steps", "revisions", "insights"):
                lake.execute(
                    f"INSERT INTO {warehouse.alias}.{table} SELECT * FROM single.main.{table}"
                )
            lake.execute("COMMIT")

        seconds, _ = timed(copy_to_lake)
        print(f"copied to DuckLake (PostgreSQL catalog, Parquet files) in {seconds:.1f} s")
        lake.execute("DETACH single")
        # Copied around ``append``, so the rollups it keeps are computed once here.
        seconds, _ = timed(warehouse.rebuild_rollups)
        print(
            "rollups (runs per day, selectors per week, runs of each version, outcomes of each "
            f"test) computed in {seconds:.1f} s"
        )
        # The steady state a deployment is in between appends: the scheduled compaction has
        # written the rollups' inlined rows out to Parquet (read from the catalog they are slow).
        compacted = warehouse.compact(wait=True)
        print(f"compacted in {compacted.seconds:.1f} s")
        if args.appends_only:
            print("load average (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
            profile_dashboard_cell(warehouse, end)
            time_appends(warehouse, cluster.url, workdir, end, args.steps_per_run)
            print("load average (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
        else:
            run_benchmark(warehouse, single_path, sqlite_path, args, end, cluster.url, workdir)
        warehouse.close()
    finally:
        cluster.stop()
    print(f"\nfiles in {workdir}")


def run_benchmark(
    warehouse: Warehouse,
    single_path: Path,
    sqlite_path: Path,
    args: argparse.Namespace,
    end: datetime,
    url: str,
    workdir: Path,
) -> None:
    """Time every query on the three engines and print the table."""
    import duckdb

    steps = args.steps_per_run
    lake_reader = warehouse.reader(
        [
            row[0]
            for row in warehouse.connection()
            .execute(f"SELECT DISTINCT project_id::VARCHAR FROM {warehouse.alias}.runs")
            .fetchall()
        ]
    )
    project_ids = lake_reader.project_ids
    # Measure as a server would see it: a freshly opened file, not the generator's buffers.
    single = duckdb.connect(str(single_path))
    single_reader = ScopedReader(single.cursor(), single_path.stem, project_ids)
    [counts] = lake_reader.rows(
        "SELECT (SELECT count(*) FROM runs), (SELECT count(*) FROM tests), "
        "(SELECT count(*) FROM steps)"
    )
    print(f"history: {counts[0]:,} runs, {counts[1]:,} tests, {counts[2]:,} steps")
    # Other work on the machine skews timings; print the load so busy-machine figures show.
    print("load average (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    thresholds = Thresholds()

    sqlite_db: sqlite3.Connection | None = None
    if not args.skip_sqlite:
        sqlite_db = sqlite3.connect(sqlite_path)
        sqlite_db.create_aggregate("quantile_cont", 2, QuantileCont)  # type: ignore[arg-type]

    def sqlite_time(sql: str, params: dict[str, Any]) -> float | None:
        if sqlite_db is None:
            return None
        seconds, _ = timed(lambda: sqlite_db.execute(sql, params).fetchall(), repeat=REPEAT)
        return seconds

    print(f"\n  {'query':40s} {'DuckLake':>10s} {'1 file':>10s} {'SQLite':>10s}  vs SQLite  goal")

    def record(
        name: str,
        lake: float,
        file: float,
        lite: float | None,
        note: str = "",
        *,
        goal: bool = True,
        under_1s: bool = True,
    ) -> None:
        """One row; ``goal``: the row is one the goals apply to (>= 10x SQLite, and < 1 s
        unless ``under_1s`` is False: that goal is the dashboard queries')."""
        ratio = lite / lake if lite is not None and lake > 0 else None
        lite_text = f"{lite:9.3f}s" if lite is not None else "         -"
        ratio_text = f"{ratio:8.1f}x" if ratio is not None else "        -"
        verdicts = ["< 1 s " + ("ok" if lake < 1 else "MISSED")] if under_1s else []
        if ratio is not None:
            verdicts.append(">= 10x " + ("ok" if ratio >= 10 else "MISSED"))
        verdict = (", ".join(verdicts) or "-") if goal else "(no goal: not asked by the dashboard)"
        print(f"  {name:40s} {lake:9.3f}s {file:9.3f}s {lite_text}  {ratio_text}  {verdict} {note}")

    def recompute(reader: Any) -> tuple[float, AnalysisTimings, list[Any]]:
        compute_findings(reader, thresholds, now=end)  # warm the file cache once
        timings, total = AnalysisTimings(), math.inf
        findings: list[Any] = []
        for _ in range(REPEAT):
            attempt = AnalysisTimings()

            def run(attempt: AnalysisTimings = attempt) -> list[Any]:
                return compute_findings(reader, thresholds, now=end, timings=attempt)

            seconds, findings = timed(run)
            total = min(total, seconds)
            for name, value in attempt.seconds.items():
                timings.seconds[name] = min(timings.seconds.get(name, math.inf), value)
        return total, timings, findings

    print("full insight recomputation (30-day lookback, every project):")
    lake_total, lake_timings, findings = recompute(lake_reader)
    file_total, file_timings, _ = recompute(single_reader)
    params = analysis_params(thresholds, now=end)
    sqlite_params = {
        **params,
        "since": params["since"].strftime("%Y-%m-%d %H:%M:%S.%f"),
        "recent": thresholds.slow_recent_runs,
        "min_occurrences": thresholds.recurring_min_occurrences,
        "min_ratio": thresholds.slow_min_ratio,
        "min_delta_ms": thresholds.slow_min_delta_ms,
    }
    sqlite_params.pop("script")
    sqlite_total = 0.0
    for name, lake_seconds in lake_timings.seconds.items():
        lite = sqlite_time(
            SQLITE_ANALYSIS[name],
            {k: v for k, v in sqlite_params.items() if f"${k}" in SQLITE_ANALYSIS[name]},
        )
        sqlite_total += lite or 0.0
        record(
            f"analysis {name}",
            lake_seconds,
            file_timings.seconds.get(name, math.nan),
            lite,
            under_1s=False,
        )
    by_type: dict[str, int] = {}
    for finding in findings:
        by_type[finding.type] = by_type.get(finding.type, 0) + 1
    record(
        "TOTAL recomputation (queries + rules)",
        lake_total,
        file_total,
        sqlite_total or None,
        json.dumps(by_type),
        under_1s=False,
    )

    # The whole history at the bucket the dashboard picks for its span (per week for 180 days:
    # a chart of 26 points per series, not 180), and SQLite grouped by the same bucket.
    span = queries.history_span(lake_reader)
    auto = queries.bucket_for_span(span)
    print(f"dashboard queries (whole history, every project; trends per {auto}):")
    dashboard: dict[str, Callable[..., Any]] = dict(queries.DASHBOARD_QUERIES)  # type: ignore[arg-type]
    for trend_name in ("pass_rate_over_time", "duration_trends"):
        dashboard[trend_name] = partial(dashboard[trend_name], bucket=auto)
    for name, query in dashboard.items():
        query(lake_reader)
        # Cold: the process's result cache emptied first, so the lake is read every time.
        lake_seconds, frame = timed(partial(cold, query, lake_reader), repeat=REPEAT)
        query(single_reader)
        file_seconds, _ = timed(partial(query, single_reader), repeat=REPEAT)
        lite = sqlite_time(sqlite_dashboard(name, auto), {})
        record(name, lake_seconds, file_seconds, lite, f"({len(frame)} rows)")
        if name == "insights_by_type_and_severity":
            # Warm: asked again with no commit since; one catalog read of the latest snapshot.
            query(lake_reader)
            warm_seconds, _ = timed(partial(query, lake_reader), repeat=REPEAT + 3)
            record(f"{name}, warm (no commit since)", warm_seconds, file_seconds, lite)
    # The floor under every query: a count over the smallest table. In DuckLake each query looks
    # up the latest snapshot and the table's files in the catalog first (PostgreSQL round trips),
    # which is why a 32-row query cannot be 10x a 6 ms SQLite one.
    floor = "SELECT count(*) FROM insights"
    lake_seconds, _ = timed(lambda: lake_reader.rows(floor), repeat=REPEAT + 3)
    file_seconds, _ = timed(lambda: single_reader.rows(floor), repeat=REPEAT + 3)
    record(
        "floor: count(*) of the insights table",
        lake_seconds,
        file_seconds,
        sqlite_time(floor, {}),
        goal=False,
    )
    # Per day over the whole history: 263k rows out, which no chart shows (docs/insights.md).
    trends: dict[str, Callable[..., Any]] = {
        "pass_rate_over_time": queries.pass_rate_over_time,
        "duration_trends": queries.duration_trends,
    }
    for name, trend in trends.items():
        query = partial(trend, bucket="day")
        lake_seconds, frame = timed(partial(cold, query, lake_reader), repeat=REPEAT)
        file_seconds, _ = timed(partial(query, single_reader), repeat=REPEAT)
        lite = sqlite_time(sqlite_dashboard(name, "day"), {})
        record(
            f"{name} (per day)",
            lake_seconds,
            file_seconds,
            lite,
            f"({len(frame)} rows)",
            goal=False,
        )
    since = end - timedelta(days=30)
    # The dashboard's history cell (``notebooks/dashboard.py``) asks for its default window, the
    # last 30 days, at the bucket it picks for that span: each query as it is asked there.
    print("dashboard queries as the dashboard asks them (last 30 days, every project):")
    cell_bucket = queries.bucket_for_span(queries.history_span(lake_reader, since=since))
    cell: dict[str, Callable[[Any], Any]] = {
        "history_span": partial(queries.history_span, since=since),
        f"pass_rate_over_time (per {cell_bucket})": partial(
            queries.pass_rate_over_time, since=since, bucket=cell_bucket
        ),
        f"duration_trends (per {cell_bucket})": partial(
            queries.duration_trends, since=since, bucket=cell_bucket
        ),
        "flakiest_tests": partial(queries.flakiest_tests, since=since),
        "flakiest_selectors": partial(queries.flakiest_selectors, since=since),
        "failure_clusters": partial(queries.failure_clusters, since=since),
        "fix_impact (no window: every accepted fix)": queries.fix_impact,
    }
    for name, query in cell.items():
        query(lake_reader)
        lake_seconds, _ = timed(partial(cold, query, lake_reader), repeat=REPEAT)
        query(single_reader)
        file_seconds, _ = timed(partial(query, single_reader), repeat=REPEAT)
        record(f"30 d: {name}", lake_seconds, file_seconds, None)

    def dashboard_cell(reader: Any) -> None:
        """The queries of the dashboard's history cell, in its order."""
        for query in cell.values():
            query(reader)

    lake_seconds, _ = timed(partial(cold, dashboard_cell, lake_reader), repeat=REPEAT)
    file_seconds, _ = timed(partial(dashboard_cell, single_reader), repeat=REPEAT)
    record(
        f"dashboard cell, last 30 days ({len(cell)} queries)",
        lake_seconds,
        file_seconds,
        None,
        "(the seven in a row: issue 12's dashboard page, < 2.5 s at 1M, holds them)",
        under_1s=False,
    )
    single_reader.close()
    single.close()
    lake_reader.close()

    time_appends(warehouse, url, workdir, end, steps)
    file_connection = duckdb.connect(str(single_path))
    laps = []
    for _ in range(30):
        batch = one_run_batch(end, steps)
        for table in ("runs", "tests", "steps"):
            file_connection.register(f"_in_{table}", getattr(batch, table))
        started = time.perf_counter()
        file_connection.execute("BEGIN TRANSACTION")
        for table in ("runs", "tests", "steps"):
            file_connection.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _in_{table}")
        file_connection.execute("COMMIT")
        laps.append(time.perf_counter() - started)
    file_connection.close()
    print(f"  single DuckDB file, one writer (the only kind it allows): {percentiles(laps)[0]}")
    if sqlite_db is not None:
        sqlite_db.close()
    print("load average (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()
