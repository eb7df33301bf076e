"""An in-memory DuckDB over extracted history, shaped like the warehouse (one script's runs).

The refresh after a run and the API's impact report run the warehouse's analysis and rollup
SQL over it (the rollups are views of their definitions over its raw tables).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb
import pyarrow as pa

from scriptflow.insights import rollups
from scriptflow.insights.batches import (
    REVISIONS_SCHEMA,
    RUNS_SCHEMA,
    STEPS_SCHEMA,
    TESTS_SCHEMA,
    RunBatch,
)


class MemoryHistory:
    """An in-memory DuckDB over extracted history, shaped like the warehouse (one script's runs)."""

    def __init__(self, batches: Sequence[RunBatch], revisions: pa.Table | None = None) -> None:
        self._connection = duckdb.connect(":memory:")
        tables = {
            "runs": (RUNS_SCHEMA, [b.runs for b in batches]),
            "tests": (TESTS_SCHEMA, [b.tests for b in batches]),
            "steps": (STEPS_SCHEMA, [b.steps for b in batches]),
            "revisions": (REVISIONS_SCHEMA, [revisions] if revisions is not None else []),
        }
        for name, (schema, parts) in tables.items():
            arrow = pa.concat_tables(parts) if parts else schema.empty_table()
            self._connection.register(f"_{name}", arrow)
            # UUID and TIMESTAMP types as in the warehouse, so the same SQL binds the same way.
            casts = ", ".join(
                f"{col}::UUID AS {col}" if col.endswith("_id") else col for col in schema.names
            )
            self._connection.execute(f"CREATE TABLE {name} AS SELECT {casts} FROM _{name}")
            self._connection.unregister(f"_{name}")
        rollups.define_views(self._connection)

    def rows(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """Run a query over the in-memory history."""
        return self._connection.execute(sql, params or {}).fetchall()

    def relation(self, sql: str, params: dict[str, Any] | None = None) -> Any:
        """A query over the in-memory history, executed: its result (as ``ScopedReader``)."""
        return self._connection.execute(sql, params or {})

    def close(self) -> None:
        """Free the in-memory database."""
        self._connection.close()
