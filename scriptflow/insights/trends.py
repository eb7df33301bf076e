"""Trend queries of the dashboard: pass rate and run durations over time, and the time bucket
that suits a span of history. Part of ``queries`` (which re-exports them); the helpers that
bind a query's scope are shared with the other dashboard queries there."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

import pandas as pd

from scriptflow.insights.analysis import bound_params
from scriptflow.insights.rollups import run_days_select, run_weeks_select, whole_periods_from

Bucket = Literal["minute", "hour", "day", "week", "month"]


class Reader(Protocol):
    """A DuckDB source that returns relations for validated SELECTs."""

    def relation(self, sql: str, params: dict[str, Any] | None = None) -> Any: ...

    def frame(self, sql: str, params: dict[str, Any] | None = None) -> pd.DataFrame:
        """The query's rows (a warehouse reader answers from its result cache when it can)."""
        ...


def scope_params(
    *, script_id: uuid.UUID | str | None = None, since: datetime | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "script": str(script_id) if script_id else None,
        "since": since.replace(tzinfo=None) if since and since.tzinfo else since,
        **extra,
    }


def frame(reader: Reader, sql: str, params: dict[str, Any]) -> pd.DataFrame:
    return reader.frame(sql, bound_params(sql, params))


SCOPE = """($script::UUID IS NULL OR script_id = $script::UUID)
    AND ($since::TIMESTAMP IS NULL OR created_at >= $since::TIMESTAMP)"""


# Trends by day or month read the ``run_days`` rollup, by week ``run_weeks``: its whole periods
# from ``since`` on, plus the raw runs of the part-period before the first of them (the same
# definition summed over fewer rows). Minutes and hours group the raw runs by that same
# definition. Each source's period column is ``day``.
_WEEK_COLUMNS = (
    "week AS day, project_id, script_id, environment, runs, passed, failed, timed, durations, "
    "p50_ms, p95_ms"
)


def _period_source(unit: str) -> str:
    if unit == "raw":
        return run_days_select(where=SCOPE, unit="$bucket")
    edge_where = (
        "$since::TIMESTAMP IS NOT NULL AND created_at >= $since::TIMESTAMP "
        "AND created_at < $whole_from::TIMESTAMP "
        "AND ($script::UUID IS NULL OR script_id = $script::UUID)"
    )
    if unit == "week":
        whole = f"SELECT {_WEEK_COLUMNS} FROM run_weeks"
        edge = f"SELECT {_WEEK_COLUMNS} FROM ({run_weeks_select(where=edge_where)})"
    else:
        whole, edge = "SELECT * FROM run_days", run_days_select(where=edge_where)
    return f"""
    SELECT * FROM ({whole})
    WHERE ($script::UUID IS NULL OR script_id = $script::UUID)
      AND ($whole_from::TIMESTAMP IS NULL OR day >= $whole_from::TIMESTAMP)
    UNION ALL BY NAME {edge}"""


# Group by the UUID and cast the (far fewer) result rows: casting before grouping costs ~2x.
def _pass_rate_sql(unit: str) -> str:
    return f"""
WITH daily AS ({_period_source(unit)}
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
PASS_RATE_WEEKS_SQL = _pass_rate_sql("week")
PASS_RATE_RAW_SQL = _pass_rate_sql("raw")


def _source(bucket: Bucket) -> Literal["day", "week", "raw"]:
    """Which rows a trend at ``bucket`` sums: ``run_weeks``, ``run_days`` (days and months) or
    the raw runs (minutes, hours)."""
    if bucket == "week":
        return "week"
    return "day" if bucket in ("day", "month") else "raw"


def _trend_params(
    bucket: Bucket, script_id: uuid.UUID | str | None, since: datetime | None
) -> dict[str, Any]:
    params = scope_params(script_id=script_id, since=since, bucket=bucket)
    unit: Literal["day", "week"] = "week" if bucket == "week" else "day"
    params["whole_from"] = whole_periods_from(params["since"], unit)
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
WHERE status IN ('passed', 'failed') AND {SCOPE}
"""


def history_span(
    reader: Reader, *, script_id: uuid.UUID | str | None = None, since: datetime | None = None
) -> timedelta | None:
    """How much time the decided runs in scope cover (None when there are none)."""
    spans = frame(reader, HISTORY_SPAN_SQL, scope_params(script_id=script_id, since=since))
    span = spans["span"].iloc[0] if len(spans) else None
    return None if span is None or pd.isna(span) else pd.Timedelta(span).to_pytimedelta()


def pass_rate_over_time(
    reader: Reader,
    *,
    bucket: Bucket = "day",
    script_id: uuid.UUID | str | None = None,
    since: datetime | None = None,
) -> pd.DataFrame:
    """Columns: bucket, script_id, environment, runs, passed, failed, pass_rate."""
    sql = {"day": PASS_RATE_SQL, "week": PASS_RATE_WEEKS_SQL, "raw": PASS_RATE_RAW_SQL}[
        _source(bucket)
    ]
    return frame(reader, sql, _trend_params(bucket, script_id, since))


def _duration_trends_sql(unit: str) -> str:
    # Quantiles do not add up: the rollup keeps each run's duration, unnested here into one
    # quantile aggregate (cheaper than concatenating the lists per bucket).
    return f"""
WITH daily AS ({_period_source(unit)}
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


# Per week, the same quantiles from ``run_weeks``: a week in one row (every week compaction has
# folded, every week a rebuild wrote) takes the exact quantiles stored with it; only a week
# still split over several rows (appends since the last compaction) has its rows' durations
# unnested and its quantiles computed again, as above. Exact either way.
DURATION_TRENDS_WEEKS_SQL = f"""
WITH weekly AS ({_period_source("week")}
),
grouped AS (
    SELECT day AS bucket, script_id, environment, sum(timed)::BIGINT AS runs,
           count(*) AS parts, any_value(p50_ms) AS p50_ms, any_value(p95_ms) AS p95_ms
    FROM weekly
    GROUP BY ALL
    HAVING sum(timed) > 0
),
split AS (
    SELECT bucket, script_id, environment, quantile_cont(duration_ms, [0.5, 0.95]) AS quantiles
    FROM (
        SELECT w.day AS bucket, w.script_id, w.environment, unnest(w.durations) AS duration_ms
        FROM weekly w
        JOIN grouped g ON g.parts > 1 AND g.bucket = w.day AND g.script_id = w.script_id
            AND g.environment = w.environment
    )
    GROUP BY ALL
)
SELECT g.bucket, g.script_id::VARCHAR AS script_id, g.environment, g.runs,
       CASE WHEN g.parts = 1 THEN g.p50_ms ELSE s.quantiles[1] END AS p50_ms,
       CASE WHEN g.parts = 1 THEN g.p95_ms ELSE s.quantiles[2] END AS p95_ms
FROM grouped g
LEFT JOIN split s ON s.bucket = g.bucket AND s.script_id = g.script_id
    AND s.environment = g.environment
ORDER BY g.bucket, script_id, g.environment
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
    sql = {
        "day": DURATION_TRENDS_SQL,
        "week": DURATION_TRENDS_WEEKS_SQL,
        "raw": DURATION_TRENDS_RAW_SQL,
    }[_source(bucket)]
    return frame(reader, sql, _trend_params(bucket, script_id, since))
