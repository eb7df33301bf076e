"""Named dashboard queries over the warehouse, each returning a pandas DataFrame.

Every function takes a reader (``Warehouse.reader(project_ids)``, already scoped to the caller's
projects) and returns the columns its docstring lists, so notebooks can chart them directly.
Times are naive UTC timestamps; rates are floats in [0, 1].
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import duckdb
import pandas as pd
import pyarrow as pa

from scriptflow.insights import rollups
from scriptflow.insights.fix_impact import revision_impact, revision_samples
from scriptflow.insights.rollups import selector_weeks_select, whole_periods_from
from scriptflow.insights.thresholds import Thresholds
from scriptflow.insights.trends import (
    DURATION_TRENDS_RAW_SQL,
    DURATION_TRENDS_SQL,
    HISTORY_SPAN_SQL,
    PASS_RATE_RAW_SQL,
    PASS_RATE_SQL,
    SCOPE,
    Bucket,
    Reader,
    bucket_for_span,
    duration_trends,
    frame,
    history_span,
    pass_rate_over_time,
    scope_params,
)
from scriptflow.insights.warehouse_schema import insights_arrow

__all__ = [
    "DASHBOARD_QUERIES",
    "DURATION_TRENDS_RAW_SQL",
    "DURATION_TRENDS_SQL",
    "FAILURE_CLUSTERS_SQL",
    "FIX_IMPACT_COLUMNS",
    "FLAKIEST_SELECTORS_SQL",
    "FLAKIEST_TESTS_SQL",
    "HISTORY_SPAN_SQL",
    "INSIGHTS_SUMMARY_SQL",
    "PASS_RATE_RAW_SQL",
    "PASS_RATE_SQL",
    "Bucket",
    "Reader",
    "bucket_for_span",
    "duration_trends",
    "failure_clusters",
    "fix_impact",
    "flakiest_selectors",
    "flakiest_tests",
    "history_span",
    "insights_by_type_and_severity",
    "pass_rate_over_time",
    "summarize_insights",
]

if TYPE_CHECKING:
    from scriptflow.insights.models import AIInsight

# Each test's last ``window`` outcomes (0 failed, 1 passed, 2 passed on retry), newest first,
# from the ``test_runs`` rollup: its rows keep each test's newest outcomes, so the newest of them
# since ``since`` are the newest since then (a list cut at ``since`` holds all of those). Flips do
# not depend on the direction.
FLAKIEST_TESTS_SQL = f"""
WITH grouped AS (
    SELECT script_id, environment, browser, name,
           list_filter({rollups.newest("newest")},
                       lambda x: $since::TIMESTAMP IS NULL OR x.created_at >= $since::TIMESTAMP)
               [1:$window] AS recent
    FROM test_runs
    WHERE ($script::UUID IS NULL OR script_id = $script::UUID)
    GROUP BY ALL
),
measured AS (
    SELECT script_id, environment, browser, name, [x.result FOR x IN recent] AS results,
           recent[1].created_at AS last_run_at
    FROM grouped
    WHERE len(recent) > 0
),
counted AS (
    SELECT *, len(results) AS runs,
           len(list_filter(range(1, len(results)),
                           lambda i: (results[i] = 0) <> (results[i + 1] = 0))) AS flips,
           len(list_filter(results, lambda r: r = 0)) AS failures,
           len(list_filter(results, lambda r: r = 2)) AS retry_passes
    FROM measured
)
SELECT script_id::VARCHAR AS script_id, environment, browser, name AS test_name, runs, flips,
       CASE WHEN runs > 1 THEN flips / (runs - 1) ELSE 0 END AS flip_rate,
       failures, retry_passes, last_run_at
FROM counted
WHERE flips > 0 OR retry_passes > 0
ORDER BY flip_rate DESC, retry_passes DESC, runs DESC, test_name
LIMIT $limit
"""


def flakiest_tests(
    reader: Reader,
    *,
    window: int = 30,
    limit: int = 20,
    script_id: uuid.UUID | str | None = None,
    since: datetime | None = None,
) -> pd.DataFrame:
    """ReportPortal-style top flaky tests over each test's last ``window`` runs (at most
    ``rollups.ROLLUP_WINDOW``).

    Columns: script_id, environment, browser, test_name, runs, flips, flip_rate, failures,
    retry_passes, last_run_at.
    """
    window = rollups.capped_window(window)
    params = scope_params(script_id=script_id, since=since, window=window, limit=limit)
    return frame(reader, FLAKIEST_TESTS_SQL, params)


# The ``selector_weeks`` rollup from the first whole week in scope, the raw steps before it.
# Only locators that failed can be flaky: the SEMI JOIN keeps their rows, all their rows.
_SELECTOR_EDGE = selector_weeks_select(
    where="$since::TIMESTAMP IS NOT NULL AND created_at >= $since::TIMESTAMP "
    "AND created_at < $whole_from::TIMESTAMP "
    "AND ($script::UUID IS NULL OR script_id = $script::UUID)"
)
FLAKIEST_SELECTORS_SQL = f"""
WITH weekly AS (
    SELECT * FROM selector_weeks
    WHERE ($script::UUID IS NULL OR script_id = $script::UUID)
      AND ($whole_from::TIMESTAMP IS NULL OR week >= $whole_from::TIMESTAMP)
    UNION ALL BY NAME {_SELECTOR_EDGE}
),
grouped AS (
    SELECT script_id, environment, browser, action, locator,
           sum(executions)::BIGINT AS executions, sum(failures)::BIGINT AS failures,
           max(last_seen) AS last_seen
    FROM weekly
    GROUP BY ALL
),
failing AS (SELECT DISTINCT script_id, locator FROM grouped WHERE failures > 0)
SELECT script_id::VARCHAR AS script_id, environment, browser, action, locator, executions,
       failures, failures / executions AS failure_rate, last_seen
FROM grouped SEMI JOIN failing USING (script_id, locator)
WHERE failures < executions
-- A total order: with a limit, ties (one locator in two environments) must not depend on
-- how the rows were stored.
ORDER BY failure_rate DESC, executions DESC, locator, script_id, environment, browser, action
LIMIT $limit
"""


def flakiest_selectors(
    reader: Reader,
    *,
    limit: int = 20,
    script_id: uuid.UUID | str | None = None,
    since: datetime | None = None,
) -> pd.DataFrame:
    """Locators that both failed and passed. Columns: script_id, environment, browser, action,
    locator, executions, failures, failure_rate, last_seen."""
    params = scope_params(script_id=script_id, since=since, limit=limit)
    params["whole_from"] = whole_periods_from(params["since"], "week")
    return frame(reader, FLAKIEST_SELECTORS_SQL, params)


FAILURE_CLUSTERS_SQL = f"""
SELECT signature,
       count(*) AS occurrences,
       count(DISTINCT script_id) AS scripts,
       list(DISTINCT script_id)::VARCHAR[] AS script_ids,
       list(DISTINCT environment) AS environments,
       min(created_at) AS first_seen,
       max(created_at) AS last_seen,
       any_value(error) AS sample_error
FROM tests
WHERE outcome IN ('failed', 'error') AND signature IS NOT NULL AND signature <> ''
  AND {SCOPE}
GROUP BY signature
ORDER BY occurrences DESC, signature
LIMIT $limit
"""


def failure_clusters(
    reader: Reader,
    *,
    limit: int = 50,
    script_id: uuid.UUID | str | None = None,
    since: datetime | None = None,
) -> pd.DataFrame:
    """Failures grouped by normalised signature. Columns: signature, occurrences, scripts,
    script_ids, environments, first_seen, last_seen, sample_error."""
    return frame(
        reader, FAILURE_CLUSTERS_SQL, scope_params(script_id=script_id, since=since, limit=limit)
    )


# The one definition of "insights by type and severity": the dashboard and the insights page
# run it over the insights they listed from the database (``summarize_insights``), the benchmark
# and notebooks over the warehouse's mirror (``insights_by_type_and_severity``).
INSIGHTS_SUMMARY_SQL = """
SELECT type, severity, status, count(*) AS insights, sum(occurrences) AS occurrences,
       max(last_seen) AS last_seen
FROM insights
WHERE ($script::UUID IS NULL OR script_id = $script::UUID)
  AND ($status::VARCHAR IS NULL OR status = $status)
GROUP BY ALL
ORDER BY type, severity, status
"""


def insights_by_type_and_severity(
    reader: Reader, *, script_id: uuid.UUID | str | None = None, status: str | None = None
) -> pd.DataFrame:
    """Columns: type, severity, status, insights, occurrences, last_seen."""
    params = {"script": str(script_id) if script_id else None, "status": status}
    return frame(reader, INSIGHTS_SUMMARY_SQL, params)


class _MemoryInsights:
    """A reader over insights already in hand: an in-memory DuckDB with one table."""

    def __init__(self, table: pa.Table) -> None:
        self._connection = duckdb.connect()
        self._connection.register("insights", table)

    def relation(self, sql: str, params: dict[str, Any] | None = None) -> Any:
        return self._connection.execute(sql, params or {})

    def frame(self, sql: str, params: dict[str, Any] | None = None) -> pd.DataFrame:
        return self.relation(sql, params).df()

    def close(self) -> None:
        self._connection.close()


def summarize_insights(rows: Iterable[AIInsight], *, status: str | None = None) -> pd.DataFrame:
    """``insights_by_type_and_severity`` over insights listed from the SQL database (the source
    of truth, so a page's chart agrees with the list beside it at once)."""
    reader = _MemoryInsights(insights_arrow(rows))
    try:
        return insights_by_type_and_severity(reader, status=status)
    finally:
        reader.close()


FIX_IMPACT_COLUMNS = [
    "script_id",
    "version",
    "changeset_id",
    "accepted_at",
    "runs_before",
    "pass_rate_before",
    "flip_rate_before",
    "p95_before_ms",
    "runs_after",
    "pass_rate_after",
    "flip_rate_after",
    "p95_after_ms",
    "verdict",
]


def fix_impact(
    reader: Reader, *, window: int = 30, script_id: uuid.UUID | str | None = None
) -> pd.DataFrame:
    """Did the fix work: per revision accepted from a change set, the last ``window`` runs of the
    version before against the first ``window`` runs of the revision.

    The windows come from ``fix_impact.REVISION_SAMPLES_SQL`` and the figures and verdict from
    ``fix_impact.revision_impact``: what the API's impact report and the insights refresh use.

    Columns: script_id, version, changeset_id, accepted_at, runs_before, pass_rate_before,
    flip_rate_before, p95_before_ms, runs_after, pass_rate_after, flip_rate_after, p95_after_ms,
    verdict (improved, worse, unchanged or pending, with the default thresholds).
    """
    thresholds = replace(Thresholds(), window_runs=window)
    rows = []
    for item in revision_samples(reader, window, script_id=script_id):
        report = revision_impact(item.before, item.after, thresholds)
        before, after = report["before"], report["after"]
        rows.append(
            [
                item.script_id,
                item.version,
                item.changeset_id,
                item.accepted_at,
                before["runs"],
                before["pass_rate"],
                before["flip_rate"] if before["runs"] > 1 else None,
                before["duration_p95_ms"],
                after["runs"],
                after["pass_rate"],
                after["flip_rate"] if after["runs"] > 1 else None,
                after["duration_p95_ms"],
                report["verdict"],
            ]
        )
    return pd.DataFrame(rows, columns=FIX_IMPACT_COLUMNS)


DASHBOARD_QUERIES = {
    "pass_rate_over_time": pass_rate_over_time,
    "duration_trends": duration_trends,
    "flakiest_tests": flakiest_tests,
    "flakiest_selectors": flakiest_selectors,
    "failure_clusters": failure_clusters,
    "insights_by_type_and_severity": insights_by_type_and_severity,
    "fix_impact": fix_impact,
}
