"""Extraction of run history from the SQL database into Arrow, with SQLAlchemy Core.

The DuckDB wheel has no sqlite/postgres scanner, so rows come out through SQLAlchemy (the same
code on both databases) in bounded chunks and become Arrow tables shaped like the warehouse:
runs, tests and steps are denormalised (each row carries project, script, version, environment,
browser and the run's creation time) so the analysis never joins 10M step rows to the runs.

History is per file. A run of one file (or one imported file) is one ``runs`` row. A suite or
shard run spans files: each of its tests belongs to the file its node id names, and that file's
script and version come from the run's pinned snapshot (``{path: [script_id, version]}``), so
the run becomes one ``runs`` row per file it ran (``(run_id, script_id)`` is the key), with the
file's own status (failed when one of its tests failed) and the sum of its tests' durations. A
sharded parent is left out: its tests are copies of its shards', which carry the steps.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
from sqlalchemy import ColumnElement, Connection, Select, func, or_, select
from sqlalchemy.orm import Session

from scriptflow.insights.batches import (
    REVISIONS_SCHEMA,
    RUN_KEYS,
    RUNS_SCHEMA,
    STEPS_SCHEMA,
    TESTS_SCHEMA,
    RunBatch,
)
from scriptflow.insights.signatures import error_signature
from scriptflow.insights.snapshot_files import (
    file_of_test,
    file_run_row,
    pinned_file,
    snapshot_items,
)
from scriptflow.runs.failure_class import FailureClass, failure_class
from scriptflow.runs.models import TERMINAL_STATUSES, RunKind, RunStep, RunTest, TestRun
from scriptflow.runs.triage import run_failure_class
from scriptflow.scripts.models import Script, ScriptRevision

__all__ = [
    "REVISIONS_SCHEMA",
    "RUNS_SCHEMA",
    "STEPS_SCHEMA",
    "TESTS_SCHEMA",
    "RunBatch",
    "extract_revisions",
    "extract_runs",
    "finished_runs_query",
    "run_script_ids",
]

CHUNK_RUNS = 20_000


def finished_runs_query() -> Select[*tuple[Any, ...]]:
    """Finished runs in creation order (the warehouse's append order)."""
    return (
        select(
            TestRun.id,
            TestRun.project_id,
            TestRun.script_id,
            TestRun.script_version,
            TestRun.environment,
            TestRun.browser,
            TestRun.status,
            TestRun.trigger,
            TestRun.created_at,
            TestRun.started_at,
            TestRun.completed_at,
            TestRun.error,
            TestRun.failure_class,
            TestRun.kind,
            TestRun.snapshot,
        )
        .where(TestRun.status.in_(sorted(TERMINAL_STATUSES)))
        .where(or_(TestRun.script_id.is_not(None), TestRun.kind.in_(SPANNING_KINDS)))
        .order_by(TestRun.created_at, TestRun.id)
    )


# Runs whose tests span files and are attributed to them through the snapshot. Not the
# sharded parent: its tests are its shards' tests again.
SPANNING_KINDS = (RunKind.SUITE.value, RunKind.SHARD.value)


def extract_runs(
    connection: Connection | Session,
    *,
    run_ids: Sequence[uuid.UUID] | None = None,
    script_id: uuid.UUID | None = None,
    project_ids: Sequence[uuid.UUID] | None = None,
    completed_since: datetime | None = None,
    created_since: datetime | None = None,
    chunk_runs: int = CHUNK_RUNS,
) -> Iterator[RunBatch]:
    """Finished runs (optionally filtered) with their tests and steps, in bounded batches."""
    query = finished_runs_query()
    if run_ids is not None:
        query = query.where(TestRun.id.in_(list(run_ids)))
    if script_id is not None:
        # The file's own runs, and the suite runs of its project (which of their tests are
        # this file's is read from each run's snapshot below).
        project_of_script = select(Script.project_id).where(Script.id == script_id)
        query = query.where(
            or_(
                TestRun.script_id == script_id,
                TestRun.kind.in_(SPANNING_KINDS)
                & (TestRun.project_id == project_of_script.scalar_subquery()),
            )
        )
    if project_ids is not None:
        query = query.where(TestRun.project_id.in_(list(project_ids)))
    if completed_since is not None:
        query = query.where(TestRun.completed_at >= completed_since)
    if created_since is not None:
        query = query.where(TestRun.created_at >= created_since)
    result = connection.execute(query.execution_options(yield_per=chunk_runs))
    only = str(script_id) if script_id is not None else None
    for chunk in result.partitions(chunk_runs):
        yield _batch(connection, chunk, only_script=only)


def run_script_ids(connection: Connection | Session, run_id: uuid.UUID) -> list[uuid.UUID]:
    """The scripts a finished run has history for: its file, or for a suite or shard run every
    file of its snapshot one of its tests belongs to (what a refresh after it must recompute)."""
    run = connection.execute(
        select(TestRun.script_id, TestRun.kind, TestRun.snapshot).where(TestRun.id == run_id)
    ).first()
    if run is None:
        return []
    if run.script_id is not None:
        return [run.script_id]
    if run.kind not in SPANNING_KINDS:
        return []
    files = connection.execute(
        select(RunTest.file, RunTest.nodeid, RunTest.name).where(RunTest.run_id == run_id)
    )
    found: dict[str, None] = {}
    for test in files:
        pinned = pinned_file(run.snapshot, file_of_test(test.file, test.nodeid or test.name))
        if pinned is not None:
            found.setdefault(pinned[0])
    return [uuid.UUID(ident) for ident in found]


# What the analysis copy says of a failure whose class is ``system``: the environment or the
# browser failed, the product was never tested, so pass rates, flakiness and failure clusters
# (which read only passed/failed/flaky/error) leave it out. The SQL database keeps the truth.
NOT_TESTED = "untested"


def _batch(
    connection: Connection | Session, run_rows: Sequence[Any], *, only_script: str | None = None
) -> RunBatch:
    # Keyed by (run id, script id): a suite run is one row per file it ran.
    runs: dict[tuple[uuid.UUID, str], dict[str, Any]] = {}
    single: dict[uuid.UUID, dict[str, Any]] = {}
    spanning: dict[uuid.UUID, Any] = {}
    run_classes: dict[uuid.UUID, str | None] = {}
    test_classes: dict[tuple[uuid.UUID, str], list[str | None]] = {}
    for row in run_rows:
        run_classes[row.id] = row.failure_class
        started, completed = row.started_at, row.completed_at
        record = {
            "run_id": str(row.id),
            "project_id": str(row.project_id),
            "script_id": str(row.script_id) if row.script_id is not None else None,
            "script_version": row.script_version,
            "environment": row.environment,
            "browser": row.browser,
            "status": row.status,
            "trigger": row.trigger,
            "created_at": _naive_utc(row.created_at),
            "completed_at": _naive_utc(completed),
            "duration_ms": int((completed - started).total_seconds() * 1000)
            if started and completed
            else None,
            "error": row.error,
        }
        if row.script_id is not None:
            if only_script is None or record["script_id"] == only_script:
                runs[(row.id, record["script_id"])] = single[row.id] = record
        else:
            spanning[row.id] = (row, record)
    ids = [*single, *spanning]
    tests: list[dict[str, Any]] = []
    steps: list[dict[str, Any]] = []
    # A test's run row (whose keys its steps carry too) and position.
    test_rows_of: dict[uuid.UUID, tuple[dict[str, Any], int]] = {}
    # Bounded IN lists: SQLite caps bound parameters, PostgreSQL plans them fine either way.
    for start in range(0, len(ids), 500):
        part = ids[start : start + 500]
        tests_of, steps_of = _rows_wanted(part, single, spanning, only_script)
        # Explicit columns, so the same code reads through a Session or a Core Connection.
        test_rows = connection.execute(
            select(
                RunTest.id,
                RunTest.run_id,
                RunTest.position,
                # Insights key on the node id (tests/test_cart.py::test_total[chromium]) where
                # the run recorded one; runs from before trees have only the name.
                func.coalesce(RunTest.nodeid, RunTest.name).label("name"),
                RunTest.file,
                RunTest.outcome,
                RunTest.attempts,
                RunTest.duration_ms,
                RunTest.error,
                RunTest.failure_class,
            )
            .where(tests_of)
            .order_by(RunTest.run_id, RunTest.position)
        )
        pending_tests: dict[uuid.UUID, dict[str, Any]] = {}
        untested: set[uuid.UUID] = set()
        for test in test_rows:
            run = file_run_row(test, single, runs, spanning, only_script)
            if run is None:
                continue  # another file's test (a refresh of one script), or not in the tree
            key = (test.run_id, run["script_id"])
            test_rows_of[test.id] = (run, test.position)
            # Stored when the run finished; rows from before triage get the rules' class.
            test_class = test.failure_class or failure_class(test.outcome, test.error)
            test_classes.setdefault(key, []).append(test_class)
            if test_class == FailureClass.SYSTEM:
                untested.add(test.id)
            record = {
                "run_id": str(test.run_id),
                **_run_keys(run),
                "position": test.position,
                "name": test.name,
                "outcome": NOT_TESTED if test.id in untested else test.outcome,
                "attempts": test.attempts,
                "duration_ms": test.duration_ms,
                "error": test.error,
                "signature": None,
            }
            pending_tests[test.id] = record
            tests.append(record)
        step_rows = connection.execute(
            select(
                RunStep.run_id,
                RunStep.test_id,
                RunStep.position,
                RunStep.attempt,
                RunStep.action,
                RunStep.locator,
                RunStep.duration_ms,
                RunStep.outcome,
                RunStep.error,
            )
            .where(steps_of)
            .order_by(RunStep.run_id, RunStep.test_id, RunStep.attempt, RunStep.position)
        )
        last_failed: dict[uuid.UUID, Any] = {}
        for step in step_rows:
            owner = test_rows_of.get(step.test_id)
            if owner is None:
                continue
            run, test_position = owner
            if step.outcome == "failed":
                last_failed[step.test_id] = step
            steps.append(
                {
                    "run_id": str(step.run_id),
                    **_run_keys(run),
                    "test_position": test_position,
                    "position": step.position,
                    "attempt": step.attempt,
                    "action": step.action,
                    "locator": step.locator,
                    "duration_ms": step.duration_ms,
                    "outcome": NOT_TESTED
                    if step.test_id in untested and step.outcome == "failed"
                    else step.outcome,
                    "error": step.error,
                }
            )
        for test_id, record in pending_tests.items():
            if record["outcome"] in ("failed", "error", "flaky"):
                failed_step = last_failed.get(test_id)
                record["signature"] = error_signature(
                    record["error"] or (failed_step.error if failed_step else None),
                    action=failed_step.action if failed_step else None,
                    locator=failed_step.locator if failed_step else None,
                )
    for (run_id, _), run in runs.items():
        key = (run_id, run["script_id"])
        run_class = run_classes[run_id]
        if run_id in spanning and run_class != FailureClass.SYSTEM:
            run_class = None  # a suite run's file is judged by its own tests
        run_class = run_class or run_failure_class(
            run["status"], run["error"], test_classes.get(key, ())
        )
        if run_class == FailureClass.SYSTEM:
            run["status"] = NOT_TESTED
    return RunBatch(
        runs=pa.Table.from_pylist(list(runs.values()), schema=RUNS_SCHEMA),
        tests=pa.Table.from_pylist(tests, schema=TESTS_SCHEMA),
        steps=pa.Table.from_pylist(steps, schema=STEPS_SCHEMA),
    )


def _rows_wanted(
    part: Sequence[uuid.UUID],
    single: dict[uuid.UUID, dict[str, Any]],
    spanning: dict[uuid.UUID, Any],
    only_script: str | None,
) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """Which test and step rows of ``part`` to read: all of them, or for a refresh of one
    script only its own share of the suite runs (the tests of the paths their snapshots pinned
    it at), so a project's big suite runs are not read whole for each file."""
    spanning_part = [run_id for run_id in part if run_id in spanning]
    if only_script is None or not spanning_part:
        return RunTest.run_id.in_(part), RunStep.run_id.in_(part)
    paths = sorted(
        {
            path
            for run_id in spanning_part
            for path, entry in snapshot_items(spanning[run_id][0].snapshot)
            if (pinned := pinned_file({path: entry}, path)) is not None and pinned[0] == only_script
        }
    )
    own = [run_id for run_id in part if run_id in single]
    shared = RunTest.run_id.in_(spanning_part) & RunTest.file.in_(paths)
    tests = or_(RunTest.run_id.in_(own), shared)
    steps = or_(RunStep.run_id.in_(own), RunStep.test_id.in_(select(RunTest.id).where(shared)))
    return tests, steps


def extract_revisions(
    connection: Connection | Session,
    *,
    script_id: uuid.UUID | None = None,
    project_ids: Sequence[uuid.UUID] | None = None,
) -> pa.Table:
    """Every script revision (version, source, change set, time) with its project."""
    query = select(
        Script.project_id,
        ScriptRevision.script_id,
        ScriptRevision.version,
        ScriptRevision.source,
        ScriptRevision.changeset_id,
        ScriptRevision.created_at,
    ).join(Script, Script.id == ScriptRevision.script_id)
    if script_id is not None:
        query = query.where(ScriptRevision.script_id == script_id)
    if project_ids is not None:
        query = query.where(Script.project_id.in_(list(project_ids)))
    rows = [
        {
            "project_id": str(row.project_id),
            "script_id": str(row.script_id),
            "version": row.version,
            "source": row.source,
            "changeset_id": str(row.changeset_id) if row.changeset_id else None,
            "created_at": _naive_utc(row.created_at),
        }
        for row in connection.execute(query)
    ]
    return pa.Table.from_pylist(rows, schema=REVISIONS_SCHEMA)


def _run_keys(run: dict[str, Any]) -> dict[str, Any]:
    return {name: run[name] for name, _ in RUN_KEYS}


def _naive_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value
