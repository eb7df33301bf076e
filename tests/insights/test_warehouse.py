"""The DuckDB warehouse: idempotent appends, rebuilds, project scoping, one writer at a time."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from scriptflow.errors import ValidationFailed
from scriptflow.insights import queries
from scriptflow.insights.analysis import MemoryHistory, compute_findings
from scriptflow.insights.extract import REVISIONS_SCHEMA
from scriptflow.insights.thresholds import Thresholds
from scriptflow.insights.warehouse import Warehouse, WarehouseBusy
from tests.insights.history import START, Run, batch, login_steps

P1, P2 = str(uuid.uuid4()), str(uuid.uuid4())
FLAKY, STABLE, OTHER = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
NOW = START + timedelta(days=1)


def flaky_history() -> list[Run]:
    runs = []
    for i in range(12):
        fails = i % 3 == 1
        runs.append(
            Run(FLAKY, P1, "failed" if fails else "passed", steps=login_steps(button_fails=fails))
        )
        runs.append(Run(STABLE, P1, steps=login_steps()))
        runs.append(Run(OTHER, P2, "failed", steps=login_steps(button_fails=True)))
    return runs


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[Warehouse]:
    wh = Warehouse.for_data_dir(tmp_path)
    wh.append(batch(flaky_history()))
    yield wh
    wh.close()


def test_findings_from_the_warehouse_match_the_in_memory_history(warehouse: Warehouse) -> None:
    with warehouse.reader([P1]) as reader:
        from_warehouse = compute_findings(reader, Thresholds(), now=NOW)
    memory = MemoryHistory([batch(flaky_history())])
    from_memory = [f for f in compute_findings(memory, Thresholds(), now=NOW) if f.project_id == P1]
    assert sorted(f.fingerprint for f in from_warehouse) == sorted(
        f.fingerprint for f in from_memory
    )
    types = {(f.type, f.script_id) for f in from_warehouse}
    assert ("flaky-test", FLAKY) in types
    assert ("flaky-selector", FLAKY) in types
    assert not any(f.script_id == STABLE for f in from_warehouse)
    selector = next(f for f in from_warehouse if f.type == "flaky-selector")
    assert selector.summary == "Selector #login may be flaky"
    assert selector.details["failures"] == 4 and selector.details["executions"] == 12


def test_append_is_idempotent(warehouse: Warehouse) -> None:
    count = "SELECT (SELECT count(*) FROM runs), (SELECT count(*) FROM steps)"
    with warehouse.reader([P1, P2]) as reader:
        [before] = reader.rows(count)
    again = batch(flaky_history()[:3])
    run_ids = again.runs.column("run_id").to_pylist()
    assert warehouse.known_run_ids(run_ids) == set()
    warehouse.append(again)
    warehouse.append(again)
    assert warehouse.known_run_ids(run_ids) == set(run_ids)
    with warehouse.reader([P1, P2]) as reader:
        [after] = reader.rows(count)
    assert after == (before[0] + 3, before[1] + again.steps.num_rows)


def test_a_reader_sees_only_its_projects(warehouse: Warehouse) -> None:
    with warehouse.reader([P2]) as reader:
        assert reader.rows("SELECT DISTINCT project_id::VARCHAR FROM runs") == [(P2,)]
        assert len(reader.query("SELECT * FROM steps")) == 12 * 4
    with warehouse.reader([]) as nobody:
        assert nobody.rows("SELECT count(*) FROM runs") == [(0,)]


@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM runs",
        "SELECT 1; DROP TABLE runs",
        "SELECT * FROM warehouse.main.runs",
        "SELECT * FROM main.runs",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT read_text('/etc/hostname')",
        "SELECT getenv('HOME')",
        "SELECT * FROM runs UNION ALL SELECT * FROM read_parquet('x.parquet')",
        "SELECT * FROM meta",
        "COPY runs TO 'x.csv'",
        "ATTACH 'other.duckdb'",
    ],
)
def test_a_reader_refuses_anything_but_a_select_over_its_views(
    warehouse: Warehouse, sql: str
) -> None:
    with warehouse.reader([P1]) as reader, pytest.raises(ValidationFailed):
        reader.query(sql)


def test_rebuild_swaps_in_a_fresh_file(warehouse: Warehouse) -> None:
    result = warehouse.rebuild([batch(flaky_history()[:6])], REVISIONS_SCHEMA.empty_table())
    assert (result.runs, result.tests) == (6, 6)
    with warehouse.reader([P1, P2]) as reader:
        assert reader.rows("SELECT count(*) FROM runs") == [(6,)]


def test_a_second_process_gets_warehouse_busy_not_a_crash(warehouse: Warehouse) -> None:
    warehouse.connection()  # this process holds the file
    code = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from scriptflow.insights.warehouse import Warehouse, WarehouseBusy
        try:
            Warehouse(Path({str(warehouse.path)!r})).connection()
        except WarehouseBusy:
            sys.exit(3)
        """
    )
    done = subprocess.run([sys.executable, "-c", code], check=False, timeout=60)
    assert done.returncode == 3
    warehouse.close()
    done = subprocess.run([sys.executable, "-c", code], check=False, timeout=60)
    assert done.returncode == 0  # released: the other process may take it


def test_busy_is_a_scriptflow_error_with_a_stable_code() -> None:
    assert WarehouseBusy("x").code == "ANALYTICS_BUSY"


def test_dashboard_queries_return_their_documented_columns(warehouse: Warehouse) -> None:
    script_rev = pa.Table.from_pylist(
        [
            {
                "project_id": P1,
                "script_id": FLAKY,
                "version": 2,
                "source": "changeset",
                "changeset_id": str(uuid.uuid4()),
                "created_at": START + timedelta(hours=2),
            }
        ],
        schema=REVISIONS_SCHEMA,
    )
    warehouse.replace_revisions(script_rev, None)
    fixed = [Run(FLAKY, P1, version=2, steps=login_steps()) for _ in range(6)]
    warehouse.append(batch(fixed, start=START + timedelta(hours=3)))
    with warehouse.reader([P1]) as reader:
        frames = {
            "pass_rate_over_time": queries.pass_rate_over_time(reader),
            "duration_trends": queries.duration_trends(reader),
            "flakiest_tests": queries.flakiest_tests(reader),
            "flakiest_selectors": queries.flakiest_selectors(reader),
            "failure_clusters": queries.failure_clusters(reader),
            "insights_by_type_and_severity": queries.insights_by_type_and_severity(reader),
            "fix_impact": queries.fix_impact(reader),
        }
    assert list(frames["pass_rate_over_time"].columns) == [
        "bucket",
        "script_id",
        "environment",
        "runs",
        "passed",
        "failed",
        "pass_rate",
    ]
    assert list(frames["duration_trends"].columns) == [
        "bucket",
        "script_id",
        "environment",
        "runs",
        "p50_ms",
        "p95_ms",
    ]
    top = frames["flakiest_tests"].iloc[0]
    assert top["script_id"] == FLAKY and top["flips"] > 0
    selectors = frames["flakiest_selectors"]
    assert selectors.iloc[0]["locator"] == "#login"
    assert 0 < selectors.iloc[0]["failure_rate"] < 1
    clusters = frames["failure_clusters"]
    assert clusters.iloc[0]["signature"].startswith("click #login | ")
    assert set(clusters.columns) >= {"signature", "occurrences", "scripts", "script_ids"}
    impact = frames["fix_impact"].iloc[0]
    assert impact["version"] == 2
    assert impact["runs_before"] == 12 and impact["runs_after"] == 6
    assert impact["pass_rate_after"] == 1.0 and impact["pass_rate_before"] < 1.0
    assert (
        frames["insights_by_type_and_severity"].columns
        == [
            "type",
            "severity",
            "status",
            "insights",
            "occurrences",
            "last_seen",
        ]
    ).all()


def test_history_within_an_hour_is_bucketed_by_minute_so_trends_show_several_points(
    warehouse: Warehouse,
) -> None:
    with warehouse.reader([P1]) as reader:
        span = queries.history_span(reader)
        bucket = queries.bucket_for_span(span)
        trend = queries.pass_rate_over_time(reader, bucket=bucket)
    assert span is not None and span < timedelta(hours=1)  # 24 runs a minute apart
    assert bucket == "minute"
    with warehouse.reader([str(uuid.uuid4())]) as reader:
        assert queries.history_span(reader) is None  # nobody's history: no span
    flaky = trend[trend["script_id"] == FLAKY]
    assert len(flaky) == 12  # one point per minute, not one for the whole history


@pytest.mark.parametrize(
    ("span", "bucket"),
    [
        (None, "minute"),
        (timedelta(hours=5), "minute"),
        (timedelta(hours=7), "hour"),
        (timedelta(days=2), "hour"),
        (timedelta(days=3), "day"),
        (timedelta(days=120), "day"),
        (timedelta(days=400), "week"),
    ],
)
def test_the_bucket_grows_with_the_span_of_history(
    span: timedelta | None, bucket: queries.Bucket
) -> None:
    assert queries.bucket_for_span(span) == bucket
