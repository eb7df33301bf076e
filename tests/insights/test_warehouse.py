"""The DuckLake warehouse: idempotent appends, rebuilds, project scoping, many processes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from scriptflow.errors import ValidationFailed
from scriptflow.insights import queries, rollups
from scriptflow.insights.analysis import compute_findings
from scriptflow.insights.extract import REVISIONS_SCHEMA, RunBatch
from scriptflow.insights.memory_history import MemoryHistory
from scriptflow.insights.thresholds import Thresholds
from scriptflow.insights.warehouse import Warehouse
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
    """A warehouse of the module's history for a test that writes to it."""
    wh = Warehouse.for_data_dir(tmp_path)
    wh.append(batch(flaky_history()))
    yield wh
    wh.close()


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    """The same history, attached once for the tests that only read (an attach costs seconds)."""
    wh = Warehouse.for_data_dir(tmp_path_factory.mktemp("shared-warehouse"))
    wh.append(batch(flaky_history()))
    yield wh
    wh.close()


def test_findings_from_the_warehouse_match_the_in_memory_history(shared: Warehouse) -> None:
    with shared.reader([P1]) as reader:
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


def test_a_rollup_new_to_an_older_catalog_is_made_and_filled_on_attach(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    """A catalog made before a rollup (``run_weeks`` here) gets it, filled from the raw rows in
    the transaction that creates it, written as Parquet rather than inlined."""
    connection = warehouse.connection()
    connection.execute(f"DROP TABLE {warehouse.alias}.run_weeks")
    later = Warehouse.for_data_dir(tmp_path)  # another process attaching the older catalog
    try:
        with later.reader([P1, P2]) as reader:
            stored = reader.rows("SELECT * FROM run_weeks ORDER BY ALL")
            defined = reader.rows(f"{rollups.run_weeks_select()} ORDER BY ALL")
        assert stored == defined != []
        [(files,)] = (
            later.connection()
            .execute(f"SELECT count(*) FROM ducklake_list_files('{later.alias}', 'run_weeks')")
            .fetchall()
        )
        assert files == 1
    finally:
        later.close()


def test_a_reader_sees_only_its_projects(shared: Warehouse) -> None:
    with shared.reader([P2]) as reader:
        assert reader.rows("SELECT DISTINCT project_id::VARCHAR FROM runs") == [(P2,)]
        assert len(reader.query("SELECT * FROM steps")) == 12 * 4
    with shared.reader([]) as nobody:
        assert nobody.rows("SELECT count(*) FROM runs") == [(0,)]


@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM runs",
        "SELECT 1; DROP TABLE runs",
        "SELECT * FROM analytics.main.runs",
        "SELECT * FROM __ducklake_metadata_analytics.main.ducklake_data_file",
        "SELECT * FROM ducklake_snapshots('analytics')",
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
def test_a_reader_refuses_anything_but_a_select_over_its_views(shared: Warehouse, sql: str) -> None:
    with shared.reader([P1]) as reader, pytest.raises(ValidationFailed):
        reader.query(sql)


def test_rebuild_replaces_everything_at_once(warehouse: Warehouse) -> None:
    result = warehouse.rebuild([batch(flaky_history()[:6])], REVISIONS_SCHEMA.empty_table())
    assert (result.runs, result.tests) == (6, 6)
    with warehouse.reader([P1, P2]) as reader:
        assert reader.rows("SELECT count(*) FROM runs") == [(6,)]


def test_another_process_appends_while_this_one_reads_and_compacts(warehouse: Warehouse) -> None:
    """The single-file warehouse refused a second process (ANALYTICS_BUSY); DuckLake does not,
    and no commit is lost while another process reads (it was, with the catalog in WAL mode)."""
    with warehouse.reader([P1, P2]) as reader:
        [(before,)] = reader.rows("SELECT count(*) FROM runs")
        code = textwrap.dedent(
            f"""
            from pathlib import Path
            from scriptflow.insights.warehouse import Warehouse
            from tests.insights.history import Run, batch, login_steps
            other = Warehouse.for_data_dir(Path({str(warehouse.location.data_path)!r}).parents[1])
            for _ in range(3):
                other.append(batch([Run({FLAKY!r}, {P1!r}, steps=login_steps())]))
            other.close()
            """
        )
        writer = subprocess.Popen([sys.executable, "-c", code])
        try:
            while writer.poll() is None:
                reader.rows("SELECT count(*) FROM steps")  # reading alongside never fails
                time.sleep(0.02)
            assert writer.returncode == 0
        finally:
            writer.kill()
        assert reader.rows("SELECT count(*) FROM runs") == [(before + 3,)]
        done = warehouse.compact(wait=True)
        assert done.ran and done.inlined_rows_before > 0 and done.files_after > 0
        # Compaction moved the rows into Parquet files without changing a single one.
        assert reader.rows("SELECT count(*) FROM runs") == [(before + 3,)]
        assert warehouse.compact(wait=True).inlined_rows_before == 0


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


def test_rollups_answer_as_the_raw_rows_do_after_appends_a_resync_and_a_merge(
    tmp_path: Path,
) -> None:
    """The dashboard's trends, selectors, flakiest tests and fix impact read the warehouse's
    rollup tables; an in-memory history computes the same rollups as views of its raw rows. Both
    must agree, across split days (several appends), a re-synced run whose outcome changed, and
    compaction's merge."""
    every = timedelta(hours=5)
    runs = [
        Run(
            FLAKY if i % 2 else STABLE,
            P1,
            "failed" if i % 3 == 1 else "flaky" if i % 7 == 2 else "passed",
            environment="prod" if i % 4 == 0 else "staging",
            version=1 if i < 22 else 2,
            steps=login_steps(button_fails=i % 3 == 1, submit_ms=100 + 37 * i),
        )
        for i in range(40)
    ]
    # Version 2 of both scripts came from a change set, after run 21 (every 5 h from START).
    revisions = pa.Table.from_pylist(
        [
            {
                "project_id": P1,
                "script_id": script,
                "version": version,
                "source": "changeset" if version == 2 else "create",
                "changeset_id": str(uuid.uuid4()) if version == 2 else None,
                "created_at": START + timedelta(hours=0 if version == 1 else 5 * 21 + 1),
            }
            for script in (FLAKY, STABLE)
            for version in (1, 2)
        ],
        schema=REVISIONS_SCHEMA,
    )
    # More runs of one test and version than the rollups keep (ROLLUP_WINDOW at each end): the
    # merge must keep the right end. Version 2 starts with 30 failures, then flips every run.
    long = [
        Run(
            OTHER,
            P1,
            ("failed" if i % 10 == 0 else "passed")
            if i < 120
            else "failed"
            if i < 150 or i % 2
            else "passed",
            version=1 if i < 120 else 2,
        )
        for i in range(240)
    ]
    long_revision = {
        "project_id": P1,
        "script_id": OTHER,
        "version": 2,
        "source": "changeset",
        "changeset_id": str(uuid.uuid4()),
        "created_at": START + timedelta(minutes=119, seconds=30),
    }
    revisions = pa.concat_tables(
        [revisions, pa.Table.from_pylist([long_revision], schema=REVISIONS_SCHEMA)]
    )
    long_batch = batch(long)
    warehouse = Warehouse.for_data_dir(tmp_path)
    try:
        warehouse.replace_revisions(revisions, None)
        for part in (slice(0, 130), slice(130, 240)):
            warehouse.append(
                RunBatch(
                    *(
                        _rows_of(t, long_batch.runs, part)
                        for t in (long_batch.runs, long_batch.tests, long_batch.steps)
                    )
                )
            )
        first = batch(runs, every=every)
        # Appended in three parts, so days are split over several rollup rows.
        for part in (slice(0, 15), slice(15, 31), slice(31, 40)):
            warehouse.append(
                RunBatch(
                    *(_rows_of(t, first.runs, part) for t in (first.runs, first.tests, first.steps))
                )
            )
        # Run 4 is synced again with another outcome: its old sums must go.
        runs[4].outcome, runs[4].steps = "failed", login_steps(button_fails=True)
        final = batch(runs, every=every)
        again = RunBatch(
            *(_rows_of(t, final.runs, slice(4, 5)) for t in (final.runs, final.tests, final.steps))
        )
        warehouse.append(again)
        memory = MemoryHistory([long_batch, final], revisions)
        since = START + timedelta(days=2, hours=3)  # mid-day, mid-week: raw edge + rollup rows

        def frames(reader: Any) -> dict[str, Any]:
            got = {}
            for bucket in ("hour", "day", "week"):
                for cut in (None, since):
                    got[f"pass {bucket} {cut}"] = queries.pass_rate_over_time(
                        reader, bucket=bucket, since=cut
                    )
                    got[f"durations {bucket} {cut}"] = queries.duration_trends(
                        reader, bucket=bucket, since=cut
                    )
            for cut in (None, since):
                got[f"selectors {cut}"] = queries.flakiest_selectors(reader, since=cut)
                for window in (5, 30):
                    got[f"tests {cut} {window}"] = queries.flakiest_tests(
                        reader, since=cut, window=window
                    )
            for window in (3, 30):
                got[f"fix impact {window}"] = queries.fix_impact(reader, window=window)
            return got

        expected = frames(memory)
        with warehouse.reader([P1]) as reader:
            split = frames(reader)
            [(rows_before,)] = reader.rows("SELECT count(*) FROM run_days")
            [(weeks_before,)] = reader.rows("SELECT count(*) FROM run_weeks")
        warehouse.compact(wait=True)
        with warehouse.reader([P1]) as reader:
            merged = frames(reader)
            [(rows_after,)] = reader.rows("SELECT count(*) FROM run_days")
            [(weeks_after,)] = reader.rows("SELECT count(*) FROM run_weeks")
            kept = reader.rows("SELECT max(len(newest)), count(*) FROM test_runs")
        assert rows_after < rows_before  # the merge folded split days
        # Split weeks have their quantiles computed again from their lists, folded ones read
        # the quantiles stored with them: both answer as the raw runs do (compared below).
        assert weeks_after < weeks_before
        assert kept == [(rollups.ROLLUP_WINDOW, 4)]  # one row per test, its newest runs
        every_run = runs + long
        assert expected["pass day None"]["runs"].sum() == len(every_run)
        failed = sum(r.outcome == "failed" for r in every_run)
        assert expected["pass day None"]["failed"].sum() == failed
        assert not expected[f"selectors {since}"].empty
        assert not expected[f"tests {since} 5"].empty
        impact = expected["fix impact 30"].set_index("script_id")
        assert set(impact.loc[[FLAKY, STABLE], "runs_after"]) == {9}  # runs 22-39, half each
        assert impact.loc[OTHER, "pass_rate_after"] == 0  # the revision's first 30 runs
        assert impact.loc[OTHER, "pass_rate_before"] == 0.9
        assert set(expected["fix impact 3"]["runs_before"]) == {3}
        newest = expected["tests None 30"].set_index("script_id").loc[OTHER]
        assert (newest["flips"], newest["failures"]) == (29, 15)
        for name, frame in expected.items():
            pd.testing.assert_frame_equal(split[name], frame, check_dtype=False, obj=name)
            pd.testing.assert_frame_equal(merged[name], frame, check_dtype=False, obj=name)
    finally:
        warehouse.close()
        memory.close()


def _rows_of(table: pa.Table, runs: pa.Table, part: slice) -> pa.Table:
    """The rows of ``table`` that belong to the runs in ``part``."""
    wanted = pa.array(runs.column("run_id").to_pylist()[part])
    return table.filter(pc.is_in(table.column("run_id"), value_set=wanted))


def test_an_attached_process_that_sits_idle_leaves_other_writers_free(tmp_path: Path) -> None:
    """Attaching looks for each rollup table; that look must not keep the SQLite catalog
    locked while the process then sits idle (another process's lake commit then failed with
    "database is locked": an API's drain attached, the seeding of its history could not write)."""
    idle = Warehouse.for_data_dir(tmp_path)
    idle.connection()
    writer = Warehouse.for_data_dir(tmp_path)
    try:
        result = writer.rebuild([batch(flaky_history()[:3])], REVISIONS_SCHEMA.empty_table())
        assert result.runs == 3
        idle.append(batch(flaky_history()[3:6]))
        with writer.reader([P1, P2]) as reader:
            assert reader.rows("SELECT count(*) FROM runs") == [(6,)]
    finally:
        writer.close()
        idle.close()
