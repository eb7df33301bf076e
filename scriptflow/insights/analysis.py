"""The analysis queries that feed the rules, and the full recomputation of findings.

The SQL runs on any DuckDB connection that exposes ``runs``, ``tests``, ``steps`` and
``revisions`` in the warehouse's shape: a ``ScopedReader`` over the warehouse (dashboards, full
recomputation) or an in-memory connection over one script's history extracted from the SQL
database (the refresh after a run). Same SQL, same rules, either way.

Windows: flakiness looks at each script's latest version only, over the last ``window_runs``
runs of each test/environment/browser; all queries ignore rows older than ``lookback_days``
(run history is appended in time order, so DuckDB's zone maps skip old row groups).

A run is one ``runs`` row per file (a suite run spans files; see ``extract``), so rows of tests
and steps join their run on ``(run_id, script_id)``, never on the run id alone.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from scriptflow.insights.findings import Finding

# Re-exported: callers of the analysis run it over this in-memory history.
from scriptflow.insights.memory_history import MemoryHistory as MemoryHistory
from scriptflow.insights.rows import (
    EnvironmentSplit,
    FailureCluster,
    LocatorStats,
    StepTimings,
    TestHistory,
)
from scriptflow.insights.rules import (
    environment_specific_findings,
    flaky_selector_findings,
    flaky_test_findings,
    recurring_failure_findings,
    slow_step_findings,
)
from scriptflow.insights.thresholds import Thresholds


class RowSource(Protocol):
    """Anything that runs a SELECT and returns tuples (a ScopedReader, an in-memory history)."""

    def rows(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]: ...


DEFAULT_LOOKBACK_DAYS = 30

_LATEST_VERSION = """
latest AS (
    SELECT script_id, max(script_version) AS version
    FROM runs
    WHERE created_at >= $since AND ($script::UUID IS NULL OR script_id = $script::UUID)
    GROUP BY script_id
)"""

# The window: each test's newest ``$window`` outcomes, oldest first. ``max_by(…, n)`` keeps the
# newest n per test as it goes (0.52 s against 1.23 s at 1M runs, load 3, for the same rows);
# an ordered list of the whole lookback sliced to its last n buffered and sorted every outcome.
# A window of 0 (a project may set it) keeps its old meaning, the whole lookback: that slice.
_TEST_WINDOW = """list_reverse(max_by(
                struct_pack(outcome := t.outcome, run_id := t.run_id, trigger := t.trigger),
                struct_pack(c := t.created_at, r := t.run_id), $window))"""
_TEST_LOOKBACK = """list(struct_pack(outcome := t.outcome, run_id := t.run_id, trigger := t.trigger)
                ORDER BY t.created_at, t.run_id)[-$window:]"""


def _test_history_sql(recent: str) -> str:
    return f"""
WITH {_LATEST_VERSION},
grouped AS (
    SELECT t.project_id, t.script_id, any_value(t.script_version) AS script_version,
           t.environment, t.browser, t.name,
           {recent} AS recent,
           max(t.created_at) AS last_run_at
    FROM tests t JOIN latest l ON t.script_id = l.script_id AND t.script_version = l.version
    WHERE t.created_at >= $since AND t.outcome IN ('passed', 'failed', 'flaky')
    GROUP BY t.project_id, t.script_id, t.environment, t.browser, t.name
    HAVING count(*) FILTER (WHERE t.outcome <> 'passed') > 0
)
SELECT project_id::VARCHAR, script_id::VARCHAR, script_version, environment, browser, name,
       [r.outcome FOR r IN recent], [r.run_id::VARCHAR FOR r IN recent],
       len(list_filter(recent, lambda r: r.outcome = 'flaky')),
       len(list_filter(recent, lambda r: r.trigger = 'confirmation')),
       len(list_filter(recent, lambda r: r.trigger = 'confirmation' AND r.outcome <> 'passed')),
       last_run_at
FROM grouped
WHERE len(list_filter(recent, lambda r: r.outcome <> 'passed')) > 0
"""


TEST_HISTORY_SQL = _test_history_sql(_TEST_WINDOW)
TEST_HISTORY_LOOKBACK_SQL = _test_history_sql(_TEST_LOOKBACK)  # a window of 0

_RECENT_RUNS = """
ranked_runs AS (
    SELECT run_id, script_id, environment, browser, row_number() OVER (
        PARTITION BY script_id, environment, browser ORDER BY created_at DESC, run_id DESC) AS rn
    FROM runs
    WHERE created_at >= $since AND status IN ('passed', 'failed')
      AND ($script::UUID IS NULL OR script_id = $script::UUID)
)"""

LOCATOR_STATS_SQL = f"""
WITH {_LATEST_VERSION}, {_RECENT_RUNS},
window_runs AS (SELECT run_id, script_id FROM ranked_runs WHERE rn <= $window),
grouped AS (
    SELECT s.project_id, s.script_id, s.script_version, s.environment, s.browser, s.action,
           s.locator,
           count(*) AS executions,
           count(*) FILTER (WHERE s.outcome = 'failed') AS failures,
           list(s.run_id) FILTER (WHERE s.outcome = 'failed') AS failed_run_ids,
           any_value(s.error) FILTER (WHERE s.outcome = 'failed') AS sample_error
    FROM steps s
    JOIN latest l ON s.script_id = l.script_id AND s.script_version = l.version
    SEMI JOIN window_runs w ON s.run_id = w.run_id AND s.script_id = w.script_id
    WHERE s.created_at >= $since AND s.locator IS NOT NULL
      AND s.outcome IN ('passed', 'failed')
    GROUP BY ALL
    HAVING count(*) FILTER (WHERE s.outcome = 'failed') > 0
)
SELECT project_id::VARCHAR, script_id::VARCHAR, script_version, environment, browser, action,
       locator, executions, failures, failed_run_ids::VARCHAR[], sample_error
FROM grouped
"""

# The HAVING clause only drops groups the slow-step rule would reject anyway (it re-checks).
STEP_TIMINGS_SQL = f"""
WITH {_RECENT_RUNS},
window_runs AS (
    SELECT run_id, script_id, rn <= $recent AS is_recent
    FROM ranked_runs WHERE rn <= $recent + $window
),
grouped AS (
    SELECT s.project_id, s.script_id, s.environment, s.browser, s.action, s.locator,
           quantile_cont(s.duration_ms, 0.95) FILTER (WHERE NOT w.is_recent) AS baseline_p95,
           quantile_cont(s.duration_ms, 0.95) FILTER (WHERE w.is_recent) AS recent_p95,
           count(*) FILTER (WHERE NOT w.is_recent) AS baseline_samples,
           count(*) FILTER (WHERE w.is_recent) AS recent_samples,
           min(s.script_version) AS first_version, max(s.script_version) AS last_version
    FROM steps s JOIN window_runs w ON s.run_id = w.run_id AND s.script_id = w.script_id
    WHERE s.created_at >= $since AND s.outcome = 'passed'
    GROUP BY ALL
    HAVING recent_p95 >= baseline_p95 * $min_ratio
       AND recent_p95 - baseline_p95 >= $min_delta_ms
),
recent_runs AS (
    SELECT script_id, environment, browser, list(run_id ORDER BY rn) AS run_ids
    FROM ranked_runs
    WHERE rn <= $recent
      AND (script_id, environment, browser) IN (
          SELECT (script_id, environment, browser) FROM grouped)
    GROUP BY ALL
)
SELECT g.project_id::VARCHAR, g.script_id::VARCHAR, g.environment, g.browser, g.action,
       g.locator, g.baseline_p95, g.recent_p95, g.baseline_samples, g.recent_samples,
       r.run_ids::VARCHAR[], [g.first_version, g.last_version]
FROM grouped g
LEFT JOIN recent_runs r
  ON r.script_id = g.script_id AND r.environment = g.environment AND r.browser = g.browser
"""

FAILURE_CLUSTERS_SQL = f"""
WITH {_RECENT_RUNS},
failed AS (
    SELECT t.project_id, t.script_id, t.signature, t.run_id, t.environment, t.browser,
           t.error, t.created_at
    FROM tests t SEMI JOIN ranked_runs r
      ON t.run_id = r.run_id AND t.script_id = r.script_id AND r.rn <= $window
    WHERE t.created_at >= $since AND t.outcome IN ('failed', 'error')
      AND t.signature IS NOT NULL AND t.signature <> ''
),
per_script AS (
    SELECT project_id, signature, list(struct_pack(script := script_id::VARCHAR, n := n)) AS n
    FROM (SELECT project_id, signature, script_id, count(*) AS n FROM failed GROUP BY ALL)
    GROUP BY ALL
),
clusters AS (
    SELECT project_id, signature, count(*) AS occurrences,
           list(run_id ORDER BY created_at DESC)[1:10] AS run_ids,
           list(DISTINCT environment) AS environments, list(DISTINCT browser) AS browsers,
           any_value(error) AS sample_error, min(created_at) AS first_seen,
           max(created_at) AS last_seen
    FROM failed GROUP BY project_id, signature HAVING count(*) >= $min_occurrences
)
SELECT c.project_id::VARCHAR, c.signature, c.occurrences, p.n, c.run_ids::VARCHAR[],
       c.environments, c.browsers, c.sample_error, c.first_seen, c.last_seen
FROM clusters c JOIN per_script p ON p.project_id = c.project_id AND p.signature = c.signature
"""

ENVIRONMENT_SPLIT_SQL = f"""
WITH {_LATEST_VERSION},
per AS (
    SELECT r.project_id, r.script_id, r.script_version, r.{{dimension}} AS value,
           count(*) AS runs, count(*) FILTER (WHERE r.status = 'failed') AS failures,
           list(r.run_id ORDER BY r.created_at DESC)
               FILTER (WHERE r.status = 'failed')[1:10] AS failed_run_ids
    FROM runs r JOIN latest l ON r.script_id = l.script_id AND r.script_version = l.version
    WHERE r.created_at >= $since AND r.status IN ('passed', 'failed')
    GROUP BY ALL
)
SELECT a.project_id::VARCHAR, a.script_id::VARCHAR, a.script_version, a.value, a.runs,
       a.failures, sum(b.runs), sum(b.failures), list(b.value),
       any_value(a.failed_run_ids)::VARCHAR[]
FROM per a JOIN per b ON a.script_id = b.script_id AND a.value <> b.value
WHERE a.failures > 0
GROUP BY a.project_id, a.script_id, a.script_version, a.value, a.runs, a.failures
"""


def bound_params(sql: str, params: dict[str, Any]) -> dict[str, Any]:
    """Only the parameters the query names (DuckDB rejects extra ones)."""
    return {name: value for name, value in params.items() if f"${name}" in sql}


@dataclass(slots=True)
class AnalysisTimings:
    """Seconds spent per analysis query (for the benchmark and logs)."""

    seconds: dict[str, float] = field(default_factory=dict)


def analysis_params(
    t: Thresholds,
    *,
    script_id: str | uuid.UUID | None = None,
    now: datetime | None = None,
    lookback_days: int = DEFAULT_LOOKBACK_DAYS,
) -> dict[str, Any]:
    """The named parameters every analysis query takes."""
    now = now or datetime.now(UTC)
    since = (now - timedelta(days=lookback_days)).astimezone(UTC).replace(tzinfo=None)
    return {
        "since": since,
        "script": str(script_id) if script_id else None,
        "window": t.window_runs,
    }


def compute_findings(
    source: RowSource,
    t: Thresholds,
    *,
    script_id: str | uuid.UUID | None = None,
    now: datetime | None = None,
    lookback_days: int = DEFAULT_LOOKBACK_DAYS,
    timings: AnalysisTimings | None = None,
) -> list[Finding]:
    """Every run-history finding (not brittle-code, which needs the script's content)."""
    params = analysis_params(t, script_id=script_id, now=now, lookback_days=lookback_days)
    findings: list[Finding] = []

    def timed(name: str, sql: str, extra: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        started = time.perf_counter()
        rows = source.rows(sql, bound_params(sql, {**params, **(extra or {})}))
        if timings is not None:
            timings.seconds[name] = time.perf_counter() - started
        return rows

    findings += flaky_test_findings(
        (
            TestHistory(
                project_id=r[0],
                script_id=r[1],
                script_version=r[2],
                environment=r[3],
                browser=r[4],
                test_name=r[5],
                outcomes=r[6],
                run_ids=r[7],
                retry_passes=r[8],
                confirmation_runs=r[9],
                confirmation_failures=r[10],
                last_run_at=r[11],
            )
            for r in timed(
                "flaky-test", TEST_HISTORY_SQL if t.window_runs > 0 else TEST_HISTORY_LOOKBACK_SQL
            )
        ),
        t,
    )
    findings += flaky_selector_findings(
        (
            LocatorStats(
                project_id=r[0],
                script_id=r[1],
                script_version=r[2],
                environment=r[3],
                browser=r[4],
                action=r[5],
                locator=r[6],
                executions=r[7],
                failures=r[8],
                failed_run_ids=list(dict.fromkeys(r[9] or ())),
                sample_error=r[10],
            )
            for r in timed("flaky-selector", LOCATOR_STATS_SQL)
        ),
        t,
    )
    findings += slow_step_findings(
        (
            StepTimings(
                project_id=r[0],
                script_id=r[1],
                environment=r[2],
                browser=r[3],
                action=r[4],
                locator=r[5],
                baseline_p95_ms=float(r[6]),
                recent_p95_ms=float(r[7]),
                baseline_samples=r[8],
                recent_samples=r[9],
                recent_run_ids=r[10] or (),
                script_versions=sorted(set(r[11] or ())),
            )
            for r in timed(
                "slow-step",
                STEP_TIMINGS_SQL,
                {
                    "recent": t.slow_recent_runs,
                    "min_ratio": t.slow_min_ratio,
                    "min_delta_ms": t.slow_min_delta_ms,
                },
            )
        ),
        t,
    )
    findings += recurring_failure_findings(
        (
            FailureCluster(
                project_id=r[0],
                signature=r[1],
                occurrences=r[2],
                occurrences_by_script={item["script"]: item["n"] for item in r[3] or ()},
                run_ids=r[4] or (),
                environments=r[5] or (),
                browsers=r[6] or (),
                sample_error=r[7],
                first_seen=r[8],
                last_seen=r[9],
            )
            for r in timed(
                "recurring-failure",
                FAILURE_CLUSTERS_SQL,
                {"min_occurrences": t.recurring_min_occurrences},
            )
        ),
        t,
    )
    for dimension in ("environment", "browser"):
        findings += environment_specific_findings(
            (
                EnvironmentSplit(
                    project_id=r[0],
                    script_id=r[1],
                    script_version=r[2],
                    dimension=dimension,  # type: ignore[arg-type]
                    value=r[3],
                    runs=r[4],
                    failures=r[5],
                    other_runs=int(r[6]),
                    other_failures=int(r[7]),
                    other_values=r[8] or (),
                    failed_run_ids=r[9] or (),
                )
                for r in timed(
                    f"environment-specific[{dimension}]",
                    ENVIRONMENT_SPLIT_SQL.replace("{dimension}", dimension),
                )
            ),
            t,
        )
    return findings
