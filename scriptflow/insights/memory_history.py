"""An in-memory DuckDB over extracted history, shaped like the warehouse (one script's runs).

The refresh after a run and the API's impact report run the warehouse's analysis and rollup
SQL over it (the rollups are views of their definitions over its raw tables). Each history is
a cursor of this process's one in-memory DuckDB with temporary tables and views of its own:
a DuckDB instance per history cost more than its queries (opening and closing one took about
0.15 s at load 11, twice per finished run: the refresh and each impact report).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    import pandas as pd

_instance: duckdb.DuckDBPyConnection | None = None
_instance_lock = threading.Lock()


def _memory_duckdb() -> duckdb.DuckDBPyConnection:
    """This process's in-memory DuckDB for histories (a cursor each: temporary objects are a
    connection's own, so histories never see each other's tables)."""
    global _instance
    with _instance_lock:
        if _instance is None:
            _instance = duckdb.connect(":memory:")
        return _instance


class MemoryHistory:
    """An in-memory DuckDB over extracted history, shaped like the warehouse (one script's runs)."""

    def __init__(self, batches: Sequence[RunBatch], revisions: pa.Table | None = None) -> None:
        self._connection = _memory_duckdb().cursor()
        tables = {
            "runs": (RUNS_SCHEMA, [b.runs for b in batches]),
            "tests": (TESTS_SCHEMA, [b.tests for b in batches]),
            "steps": (STEPS_SCHEMA, [b.steps for b in batches]),
            "revisions": (REVISIONS_SCHEMA, [revisions] if revisions is not None else []),
        }
        try:
            for name, (schema, parts) in tables.items():
                arrow = pa.concat_tables(parts) if parts else schema.empty_table()
                self._connection.register(f"_{name}", arrow)
                # UUID and TIMESTAMP types as in the warehouse, so the same SQL binds the same way.
                casts = ", ".join(
                    f"{col}::UUID AS {col}" if col.endswith("_id") else col for col in schema.names
                )
                self._connection.execute(f"CREATE TEMP TABLE {name} AS SELECT {casts} FROM _{name}")
                self._connection.unregister(f"_{name}")
            rollups.define_views(self._connection)
        except BaseException:
            self._connection.close()
            raise

    def rows(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """Run a query over the in-memory history."""
        return self._connection.execute(sql, params or {}).fetchall()

    def relation(self, sql: str, params: dict[str, Any] | None = None) -> Any:
        """A query over the in-memory history, executed: its result (as ``ScopedReader``)."""
        return self._connection.execute(sql, params or {})

    def frame(self, sql: str, params: dict[str, Any] | None = None) -> pd.DataFrame:
        """The query's rows (nothing to cache: the history is this object's own)."""
        return self.relation(sql, params).df()

    def close(self) -> None:
        """Drop the history (its cursor, and with it its temporary tables)."""
        self._connection.close()
