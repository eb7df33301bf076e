"""Extraction of run history from the SQL database into Arrow, with SQLAlchemy Core.

The DuckDB wheel has no sqlite/postgres scanner, so rows come out through SQLAlchemy (the same
code on both databases) in bounded chunks and become Arrow tables shaped like the warehouse:
runs, tests and steps are denormalised (each row carries project, script, version, environment,
browser and the run's creation time) so the analysis never joins 10M step rows to the runs.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
from sqlalchemy import Connection, Select, func, select
from sqlalchemy.orm import Session

from scriptflow.insights.signatures import error_signature
from scriptflow.runs.failure_class import FailureClass, failure_class
from scriptflow.runs.models import TERMINAL_STATUSES, RunStep, RunTest, TestRun
from scriptflow.runs.triage import run_failure_class
from scriptflow.scripts.models import Script, ScriptRevision

CHUNK_RUNS = 20_000

RUNS_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("project_id", pa.string()),
        ("script_id", pa.string()),
        ("script_version", pa.int32()),
        ("environment", pa.string()),
        ("browser", pa.string()),
        ("status", pa.string()),
        ("trigger", pa.string()),
        ("created_at", pa.timestamp("us")),
        ("completed_at", pa.timestamp("us")),
        ("duration_ms", pa.int64()),
        ("error", pa.string()),
    ]
)
_RUN_KEYS = [
    ("project_id", pa.string()),
    ("script_id", pa.string()),
    ("script_version", pa.int32()),
    ("environment", pa.string()),
    ("browser", pa.string()),
    ("trigger", pa.string()),
    ("created_at", pa.timestamp("us")),
]
TESTS_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        *_RUN_KEYS,
        ("position", pa.int32()),
        ("name", pa.string()),
        ("outcome", pa.string()),
        ("attempts", pa.int32()),
        ("duration_ms", pa.int64()),
        ("error", pa.string()),
        ("signature", pa.string()),
    ]
)
STEPS_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        *_RUN_KEYS,
        ("test_position", pa.int32()),
        ("position", pa.int32()),
        ("attempt", pa.int32()),
        ("action", pa.string()),
        ("locator", pa.string()),
        ("duration_ms", pa.int64()),
        ("outcome", pa.string()),
        ("error", pa.string()),
    ]
)
REVISIONS_SCHEMA = pa.schema(
    [
        ("project_id", pa.string()),
        ("script_id", pa.string()),
        ("version", pa.int32()),
        ("source", pa.string()),
        ("changeset_id", pa.string()),
        ("created_at", pa.timestamp("us")),
    ]
)


@dataclass(frozen=True, slots=True)
class RunBatch:
    """Runs with their tests and steps, as Arrow tables in the warehouse's shape."""

    runs: pa.Table
    tests: pa.Table
    steps: pa.Table

    @classmethod
    def empty(cls) -> RunBatch:
        """A batch with no rows."""
        return cls(
            RUNS_SCHEMA.empty_table(), TESTS_SCHEMA.empty_table(), STEPS_SCHEMA.empty_table()
        )


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
        )
        .where(TestRun.status.in_(sorted(TERMINAL_STATUSES)))
        # History is per file: suite and shard runs span files (their tests are not yet split
        # per file here), so only runs of one file count, imported ones included.
        .where(TestRun.script_id.is_not(None))
        .order_by(TestRun.created_at, TestRun.id)
    )


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
        query = query.where(TestRun.script_id == script_id)
    if project_ids is not None:
        query = query.where(TestRun.project_id.in_(list(project_ids)))
    if completed_since is not None:
        query = query.where(TestRun.completed_at >= completed_since)
    if created_since is not None:
        query = query.where(TestRun.created_at >= created_since)
    result = connection.execute(query.execution_options(yield_per=chunk_runs))
    for chunk in result.partitions(chunk_runs):
        yield _batch(connection, chunk)


# What the analysis copy says of a failure whose class is ``system``: the environment or the
# browser failed, the product was never tested, so pass rates, flakiness and failure clusters
# (which read only passed/failed/flaky/error) leave it out. The SQL database keeps the truth.
NOT_TESTED = "untested"


def _batch(connection: Connection | Session, run_rows: Sequence[Any]) -> RunBatch:
    runs: dict[uuid.UUID, dict[str, Any]] = {}
    run_classes: dict[uuid.UUID, str | None] = {}
    test_classes: dict[uuid.UUID, list[str | None]] = {}
    for row in run_rows:
        run_classes[row.id] = row.failure_class
        started, completed = row.started_at, row.completed_at
        runs[row.id] = {
            "run_id": str(row.id),
            "project_id": str(row.project_id),
            "script_id": str(row.script_id),
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
    ids = list(runs)
    tests: list[dict[str, Any]] = []
    steps: list[dict[str, Any]] = []
    test_positions: dict[uuid.UUID, int] = {}
    # Bounded IN lists: SQLite caps bound parameters, PostgreSQL plans them fine either way.
    for start in range(0, len(ids), 500):
        part = ids[start : start + 500]
        # Explicit columns, so the same code reads through a Session or a Core Connection.
        test_rows = connection.execute(
            select(
                RunTest.id,
                RunTest.run_id,
                RunTest.position,
                # Insights key on the node id (tests/test_cart.py::test_total[chromium]) where
                # the run recorded one; runs from before trees have only the name.
                func.coalesce(RunTest.nodeid, RunTest.name).label("name"),
                RunTest.outcome,
                RunTest.attempts,
                RunTest.duration_ms,
                RunTest.error,
                RunTest.failure_class,
            )
            .where(RunTest.run_id.in_(part))
            .order_by(RunTest.run_id, RunTest.position)
        )
        pending_tests: dict[uuid.UUID, dict[str, Any]] = {}
        untested: set[uuid.UUID] = set()
        for test in test_rows:
            test_positions[test.id] = test.position
            # Stored when the run finished; rows from before triage get the rules' class.
            test_class = test.failure_class or failure_class(test.outcome, test.error)
            test_classes.setdefault(test.run_id, []).append(test_class)
            if test_class == FailureClass.SYSTEM:
                untested.add(test.id)
            record = {
                "run_id": str(test.run_id),
                **_run_keys(runs[test.run_id]),
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
            .where(RunStep.run_id.in_(part))
            .order_by(RunStep.run_id, RunStep.test_id, RunStep.attempt, RunStep.position)
        )
        last_failed: dict[uuid.UUID, Any] = {}
        for step in step_rows:
            if step.outcome == "failed":
                last_failed[step.test_id] = step
            steps.append(
                {
                    "run_id": str(step.run_id),
                    **_run_keys(runs[step.run_id]),
                    "test_position": test_positions.get(step.test_id, 0),
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
    for run_id, run in runs.items():
        run_class = run_classes[run_id] or run_failure_class(
            run["status"], run["error"], test_classes.get(run_id, ())
        )
        if run_class == FailureClass.SYSTEM:
            run["status"] = NOT_TESTED
    return RunBatch(
        runs=pa.Table.from_pylist(list(runs.values()), schema=RUNS_SCHEMA),
        tests=pa.Table.from_pylist(tests, schema=TESTS_SCHEMA),
        steps=pa.Table.from_pylist(steps, schema=STEPS_SCHEMA),
    )


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
    return {name: run[name] for name, _ in _RUN_KEYS}


def _naive_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value
