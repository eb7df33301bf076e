"""Run history in the warehouse's shape: the Arrow schemas of its tables and a batch of runs.

Runs, tests and steps are denormalised (each row carries project, script, version, environment,
browser and the run's creation time), so the analysis never joins 10M step rows to the runs.
``extract`` fills them from the SQL database; the warehouse, the in-memory history and the tests
build on them.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

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
RUN_KEYS = [
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
        *RUN_KEYS,
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
        *RUN_KEYS,
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
