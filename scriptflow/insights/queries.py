"""Named dashboard queries over the warehouse, each returning a pandas DataFrame.

Every function takes a reader (``Warehouse.reader(project_ids)``, already scoped to the caller's
projects) and returns the columns its docstring lists, so notebooks can chart them directly.
Times are naive UTC timestamps; rates are floats in [0, 1].
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, Protocol

import duckdb
import pandas as pd
import pyarrow as pa

from scriptflow.insights import rollups
from scriptflow.insights.analysis import bound_params
from scriptflow.insights.fix_impact import revision_impact, revision_samples
from scriptflow.insights.rollups import run_days_select, selector_weeks_select, whole_periods_from
from scriptflow.insights.thresholds import Thresholds
from scriptflow.insights.warehouse_schema import insights_arrow

if TYPE_CHECKING:
    from scriptflow.insights.models import AIInsight

Bucket = Literal["minute", "hour", "day", "week", "month"]


class Reader(Protocol):
    """A DuckDB source that returns relations for validated SELECTs."""

    def relation(self, sql: str, params: dict[str, Any] | None = None) -> Any: ...


def _params(
    *, script_id: uuid.UUID | str | None = None, since: datetime | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "script": str(script_id) if script_id else None,
        "since": since.replace(tzinfo=None) if since and since.tzinfo else since,
        **extra,
    }


def _df(reader: Reader, sql: str, params: dict[str, Any]) -> pd.DataFrame:
    return reader.relation(sql, bound_params(sql, params)).df()


_SCOPE = """($script::UUID IS NULL OR script_id = $script::UUID)
    AND ($since::TIMESTAMP IS NULL OR created_at >= $since::TIMESTAMP)"""


# Trends by day, week or month read the ``run_days`` rollup: its whole days from ``since`` on,
# plus the raw runs of the part-day before the first of them (the same definition summed over
# fewer rows). Minutes and hours group the raw runs by that same definition.
def _daily_source(unit: str) -> str:
    if unit == "day":
        edge = run_days_select(
            where="$since::TIMESTAMP IS NOT NULL AND created_at >= $since::TIMESTAMP "
            "AND created_at < $whole_from::TIMESTAMP "
            "AND ($script::UUID IS NULL OR script_id = $script::UUID)"
        )
        return f"""
    SELECT * FROM run_days
    WHERE ($script::UUID IS NULL OR script_id = $script::UUID)
      AND ($whole_from::TIMESTAMP IS NULL OR day >= $whole_from::TIMESTAMP)
    UNION ALL BY NAME {edge}"""
    return run_days_select(where=_SCOPE, unit="$bucket")


# Group by the UUID and cast the (far fewer) result rows: casting before grouping costs ~2x.
def _pass_rate_sql(unit: str) -> str:
    return f"""
WITH daily AS ({_daily_source(unit)}
),
grouped AS (
    SELECT date_trunc($bucket, day) AS bucket, script_id, environment,
           sum(runs)::BIGINT AS runs, sum(passed)::BIGINT AS passed,
           sum(failed)::BIGINT AS failed
    FROM daily
    GROUP BY ALL
)
SELECT bucket, script_id::VARCHAR AS script_id, environment, runs, passed, failed,
       passed / runs AS pass_rate
FROM grouped
ORDER BY bucket, script_id, environment
"""


PASS_RATE_SQL = _pass_rate_sql("day")
PASS_RATE_RAW_SQL = _pass_rate_sql("raw")

_ROLLED_UP: frozenset[str] = frozenset({"day", "week", "month"})


def _trend_params(
    bucket: Bucket, script_id: uuid.UUID | str | None, since: datetime | None
) -> dict[str, Any]:
    params = _params(script_id=script_id, since=since, bucket=bucket)
    params["whole_from"] = whole_periods_from(params["since"], "day")
    return params


def bucket_for_span(span: timedelta | None) -> Bucket:
    """A time bucket that gives a trend several points for history spanning ``span``."""
    if span is None or span <= timedelta(hours=6):
        # A demo, or a first day's runs: minutes, or everything would be one point per series.
        return "minute"
    if span <= timedelta(days=2):
        return "hour"
    if span <= timedelta(days=120):
        return "day"
    return "week"


HISTORY_SPAN_SQL = f"""
SELECT max(created_at) - min(created_at) AS span
FROM runs
WHERE status IN ('passed', 'failed') AND {_SCOPE}
"""


def history_span(
    reader: Reader, *, script_id: uuid.UUID | str | None = None, since: datetime | None = None
) -> timedelta | None:
    """How much time the decided runs in scope cover (None when there are none)."""
    frame = _df(reader, HISTORY_SPAN_SQL, _params(script_id=script_id, since=since))
    span = frame["span"].iloc[0] if len(frame) else None
    return None if span is None or pd.isna(span) else pd.Timedelta(span).to_pytimedelta()


def pass_rate_over_time(
    reader: Reader,
    *,
    bucket: Bucket = "day",
    script_id: uuid.UUID | str | None = None,
    since: datetime | None = None,
) -> pd.DataFrame:
    """Columns: bucket, script_id, environment, runs, passed, failed, pass_rate."""
    sql = PASS_RATE_SQL if bucket in _ROLLED_UP else PASS_RATE_RAW_SQL
    return _df(reader, sql, _trend_params(bucket, script_id, since))


def _duration_trends_sql(unit: str) -> str:
    # Quantiles do not add up: the rollup keeps each run's duration, unnested here into one
    # quantile aggregate (cheaper than concatenating the lists per bucket).
    return f"""
WITH daily AS ({_daily_source(unit)}
),
measured AS (
    SELECT date_trunc($bucket, day) AS bucket, script_id, environment,
           count(*) AS runs, quantile_cont(duration_ms, [0.5, 0.95]) AS quantiles
    FROM (SELECT day, script_id, environment, unnest(durations) AS duration_ms FROM daily)
    GROUP BY ALL
)
SELECT bucket, script_id::VARCHAR AS script_id, environment, runs,
       quantiles[1] AS p50_ms, quantiles[2] AS p95_ms
FROM measured
ORDER BY bucket, script_id, environment
"""


DURATION_TRENDS_SQL = _duration_trends_sql("day")
DURATION_TRENDS_RAW_SQL = _duration_trends_sql("raw")


def duration_trends(
    reader: Reader,
    *,
    bucket: Bucket = "day",
    script_id: uuid.UUID | str | None = None,
    since: datetime | None = None,
) -> pd.DataFrame:
    """Columns: bucket, script_id, environment, runs, p50_ms, p95_ms (run durations)."""
    sql = DURATION_TRENDS_SQL if bucket in _ROLLED_UP else DURATION_TRENDS_RAW_SQL
    return _df(reader, sql, _trend_params(bucket, script_id, since))


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
    window = min(window, rollups.ROLLUP_WINDOW)
    params = _params(script_id=script_id, since=since, window=window, limit=limit)
    return _df(reader, FLAKIEST_TESTS_SQL, params)


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
    params = _params(script_id=script_id, since=since, limit=limit)
    params["whole_from"] = whole_periods_from(params["since"], "week")
    return _df(reader, FLAKIEST_SELECTORS_SQL, params)


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
  AND {_SCOPE}
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
    return _df(reader, FAILURE_CLUSTERS_SQL, _params(script_id=script_id, since=since, limit=limit))


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
    return _df(reader, INSIGHTS_SUMMARY_SQL, params)


class _MemoryInsights:
    """A reader over insights already in hand: an in-memory DuckDB with one table."""

    def __init__(self, table: pa.Table) -> None:
        self._connection = duckdb.connect()
        self._connection.register("insights", table)

    def relation(self, sql: str, params: dict[str, Any] | None = None) -> Any:
        return self._connection.execute(sql, params or {})

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
