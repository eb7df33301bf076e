"""Dashboard query results kept per process, keyed by the lake's latest snapshot.

Every DuckLake query first looks up the latest snapshot and the table's files in the catalog
(10-30 ms on a PostgreSQL catalog before any data is read). A dashboard asks the same queries
again and again between commits, so a result is kept under (scope, SQL, parameters, snapshot
id): one read of the catalog's ``ducklake_snapshot`` table says whether any process committed
since, and if none did the kept frame is returned. The snapshot is read before the query, and
snapshots only grow, so a kept result is never older than its key.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

# What the cache may hold at most: entries, and bytes of frames (a per-day trend over a whole
# history is 263k rows: such frames are returned but not kept).
MAX_ENTRIES = 256
MAX_BYTES = 64 * 1024 * 1024
MAX_FRAME_BYTES = 8 * 1024 * 1024


def snapshot_reader(
    cursor: duckdb.DuckDBPyConnection, alias: str, metadata_schema: str | None
) -> Callable[[], int]:
    """A function that reads the lake's latest snapshot id from its catalog."""
    sql = (
        f"SELECT max(snapshot_id) FROM __ducklake_metadata_{alias}."
        f"{metadata_schema or 'main'}.ducklake_snapshot"
    )

    def latest() -> int:
        # In a transaction of its own, rolled back: an autocommit look kept the embedded
        # SQLite catalog locked for other connections (see ``warehouse_attach._missing_rollups``).
        cursor.execute("BEGIN TRANSACTION")
        try:
            row = cursor.execute(sql).fetchone()
        finally:
            cursor.execute("ROLLBACK")
        return int(row[0]) if row and row[0] is not None else -1

    return latest


class ResultCache:
    """An LRU of DataFrames by key; thread-safe. Callers get a copy (frames are mutable)."""

    def __init__(self) -> None:
        self._entries: OrderedDict[Hashable, tuple[pd.DataFrame, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get_or_compute(self, key: Hashable, compute: Callable[[], pd.DataFrame]) -> pd.DataFrame:
        with self._lock:
            kept = self._entries.get(key)
            if kept is not None:
                self._entries.move_to_end(key)
                self.hits += 1
                return kept[0].copy()
            self.misses += 1
        result = compute()
        # Deep: object columns (DuckDB's UUIDs) would count as 8-byte pointers otherwise.
        size = int(result.memory_usage(index=True, deep=True).sum())
        if size <= MAX_FRAME_BYTES:
            with self._lock:
                if key not in self._entries:
                    self._entries[key] = (result.copy(), size)
                    self._bytes += size
                while self._entries and (
                    len(self._entries) > MAX_ENTRIES or self._bytes > MAX_BYTES
                ):
                    _, (_, dropped) = self._entries.popitem(last=False)
                    self._bytes -= dropped
        return result

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0


# The process's one cache: every reader of every warehouse (their keys name the catalog).
RESULTS = ResultCache()


def params_key(params: dict[str, object]) -> tuple[tuple[str, str], ...]:
    """Parameters as a hashable key (values by their repr: lists, datetimes, UUIDs)."""
    return tuple(sorted((name, repr(value)) for name, value in params.items()))
