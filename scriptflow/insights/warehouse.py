"""The analytics warehouse: run history in DuckLake, read and written by any number of processes.

DuckLake keeps a SQL catalog (in the PostgreSQL database of the deployment, or a SQLite file on
the embedded default) and Parquet data files (``lake.py``). Every API, worker and notebook
process attaches it with a DuckDB connection of its own; readers see the latest committed
snapshot, writers append under one deployment-wide lock. A finished run is a few dozen rows, so
appends are inlined into the catalog; compaction (``compact``: DuckLake's ``CHECKPOINT``, run on
a schedule and by ``scriptflow analytics compact``) writes them out as Parquet and merges small
files. The SQL database stays the source of truth: ``rebuild`` recreates everything from it.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from scriptflow.config import Settings
from scriptflow.insights import rollups
from scriptflow.insights import warehouse_writes as writes
from scriptflow.insights.extract import RunBatch
from scriptflow.insights.lake import ALIAS, LakeLocation
from scriptflow.insights.result_cache import snapshot_reader
from scriptflow.insights.scoped_reader import ScopedReader, ensure_read_only_select
from scriptflow.insights.warehouse_attach import attach_warehouse
from scriptflow.insights.warehouse_schema import INSIGHTS_SCHEMA, SCOPED_TABLES
from scriptflow.insights.warehouse_writes import concat_batches

__all__ = [
    "INSIGHTS_SCHEMA",
    "SCOPED_TABLES",
    "CompactResult",
    "ScopedReader",
    "SyncResult",
    "Warehouse",
    "concat_batches",
    "ensure_read_only_select",
]


@dataclass(frozen=True, slots=True)
class SyncResult:
    """What one sync appended."""

    runs: int
    tests: int
    steps: int


@dataclass(frozen=True, slots=True)
class CompactResult:
    """What one compaction did (``ran`` is False when another process was compacting)."""

    ran: bool
    files_before: int
    files_after: int
    inlined_rows_before: int
    seconds: float


class Warehouse:
    """This process's connection to the deployment's DuckLake."""

    def __init__(self, location: LakeLocation) -> None:
        self.location = location
        self.alias = _unique_alias()
        self._lock = threading.RLock()
        self._connection: duckdb.DuckDBPyConnection | None = None
        # Group commit: writes that arrive while one commits go together in the next commit.
        self._queue: list[_Ticket] = []
        self._queue_lock = threading.Lock()
        self._committer = threading.Lock()
        # Where the last write transaction's time went (the drain logs it).
        self.last_write = ""

    @classmethod
    def for_settings(cls, settings: Settings) -> Warehouse:
        """The deployment's warehouse (not attached until first used)."""
        return cls(LakeLocation.for_settings(settings))

    @classmethod
    def for_data_dir(cls, data_dir: Path) -> Warehouse:
        """The embedded default's warehouse under a data dir."""
        return cls(LakeLocation.embedded(data_dir))

    # -- connection ------------------------------------------------------------------------

    def connection(self) -> duckdb.DuckDBPyConnection:
        """The process's connection with the lake attached (its catalog created if missing)."""
        with self._lock:
            if self._connection is None:
                self._connection = attach_warehouse(self.location, self.alias)
            return self._connection

    def close(self) -> None:
        """Detach the lake (shutdown, tests)."""
        with self._lock:
            if self._connection is not None:
                self._connection.execute("USE memory")
                self._connection.execute(f"DETACH {self.alias}")
                self._connection.close()
                self._connection = None

    @property
    def catalog(self) -> str:
        """DuckDB's name for the attached lake."""
        return self.alias

    # -- writes ----------------------------------------------------------------------------

    @contextmanager
    def _write_transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One DuckLake transaction under the deployment's writer lock."""
        connection = self.connection()  # outside the lock: creating the catalog takes it
        asked = time.perf_counter()
        with self._lock, self.location.writer_lock().hold():
            locked = time.perf_counter()
            connection.execute("BEGIN TRANSACTION")
            try:
                yield connection
                written = time.perf_counter()
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            done = time.perf_counter()
            self.last_write = (
                f"lock {locked - asked:.3f}, write {written - locked:.3f}, "
                f"commit {done - written:.3f}"
            )

    def append(self, batch: RunBatch, *, replace: bool = True) -> SyncResult:
        """Append finished runs, idempotently: a run already present is replaced, or, without
        ``replace`` (the drain writer: a queued run is appended once), left as it is."""
        if batch.runs.num_rows == 0:
            return SyncResult(0, 0, 0)
        self._grouped(_Ticket(batch=batch, replace=replace))
        return SyncResult(batch.runs.num_rows, batch.tests.num_rows, batch.steps.num_rows)

    def _grouped(self, ticket: _Ticket) -> None:
        """Group commit: threads of this process writing at once share one DuckLake transaction.

        Whoever takes the committer lock writes everything queued so far (the appended runs as
        one batch, then the other changes in the order they came) and the others find theirs
        done: a commit is about a dozen catalog statements whatever its size, and under the
        deployment's one writer lock commits queue behind each other.
        """
        with self._queue_lock:
            self._queue.append(ticket)
        with self._committer:
            if not ticket.done.is_set():
                with self._queue_lock:
                    taken, self._queue = self._queue, []
                try:
                    with self._write_transaction() as connection:
                        for replace in (True, False):
                            batches = [
                                t.batch
                                for t in taken
                                if t.batch is not None and t.replace is replace
                            ]
                            if batches:
                                writes.append(
                                    connection,
                                    self.alias,
                                    concat_batches(batches),
                                    only_missing=not replace,
                                )
                        for other in taken:
                            if other.change is not None:
                                other.change(connection)
                except BaseException as error:
                    for other in taken:
                        other.error = error
                    raise
                finally:
                    for other in taken:
                        other.done.set()
        if ticket.error is not None:
            raise ticket.error

    def replace_revisions(self, revisions: pa.Table, script_ids: Sequence[str] | None) -> None:
        """Replace the revisions of the given scripts (all when None)."""

        def change(connection: duckdb.DuckDBPyConnection) -> None:
            writes.replace_revisions(connection, self.alias, revisions, script_ids)

        self._grouped(_Ticket(change=change))

    def replace_script_state(
        self,
        revisions: pa.Table,
        script_ids: Sequence[str],
        insights: pa.Table,
        project_ids: Sequence[str],
    ) -> None:
        """Replace some scripts' revisions and some projects' insights in one commit."""

        def change(connection: duckdb.DuckDBPyConnection) -> None:
            writes.replace_revisions(connection, self.alias, revisions, script_ids)
            writes.replace_insights(connection, self.alias, insights, project_ids)

        self._grouped(_Ticket(change=change))

    def write_queued(
        self, batch: RunBatch | None, insights: pa.Table | None, project_ids: Sequence[str]
    ) -> None:
        """The drain writer's one commit: queued runs appended (once each) and queued projects'
        insights mirrored."""

        def change(connection: duckdb.DuckDBPyConnection) -> None:
            if insights is not None:
                writes.replace_insights(connection, self.alias, insights, project_ids)

        has_runs = batch is not None and batch.runs.num_rows > 0
        if not has_runs and not project_ids:
            return
        self._grouped(_Ticket(batch=batch if has_runs else None, replace=False, change=change))

    def replace_insights(self, insights: pa.Table, project_ids: Sequence[str]) -> None:
        """Mirror the SQL insights of some projects, for dashboard queries."""

        def change(connection: duckdb.DuckDBPyConnection) -> None:
            writes.replace_insights(connection, self.alias, insights, project_ids)

        self._grouped(_Ticket(change=change))

    def known_run_ids(self, run_ids: Sequence[str]) -> set[str]:
        """Which of these runs the warehouse already holds."""
        if not run_ids:
            return set()
        with self.connection().cursor() as cursor:
            rows = cursor.execute(
                f"SELECT run_id::VARCHAR FROM {self.alias}.runs "
                "WHERE run_id IN (SELECT unnest($ids::UUID[]))",
                {"ids": list(run_ids)},
            ).fetchall()
        return {row[0] for row in rows}

    def latest_completed_at(self) -> Any:
        """The newest completion time synced, the catch-up watermark (None when empty)."""
        with self.connection().cursor() as cursor:
            rows = cursor.execute(f"SELECT max(completed_at) FROM {self.alias}.runs").fetchall()
        return rows[0][0] if rows else None

    def rebuild(self, batches: Iterable[RunBatch], revisions: pa.Table) -> SyncResult:
        """Replace everything with what the SQL database holds, in one transaction.

        Readers keep seeing the old snapshot until the commit, then the new one: never a mix.
        """
        totals = [0, 0, 0]
        with self._write_transaction() as connection:
            for table in ("steps", "tests", "runs", "revisions"):
                connection.execute(f"DELETE FROM {self.alias}.{table}")
            for batch in batches:
                writes.append(connection, self.alias, batch, check_existing=False)
                totals[0] += batch.runs.num_rows
                totals[1] += batch.tests.num_rows
                totals[2] += batch.steps.num_rows
            writes.insert_arrow(connection, self.alias, "revisions", revisions)
            rollups.rebuild(connection, self.alias)
        return SyncResult(*totals)

    def rebuild_rollups(self) -> None:
        """Recompute the rollups from the raw rows (after rows were loaded around ``append``)."""
        with self._write_transaction() as connection:
            rollups.rebuild(connection, self.alias)

    def compact(self, *, wait: bool = False) -> CompactResult:
        """Write inlined rows out, merge small files, expire old snapshots (DuckLake CHECKPOINT).

        One compaction at a time in the deployment; without ``wait`` a busy lock skips it.
        Appends wait for it; readers never do.
        """
        started = time.perf_counter()
        connection = self.connection()
        with self._lock, self.location.writer_lock().hold(wait=wait) as held:
            if not held:
                return CompactResult(False, 0, 0, 0, 0.0)
            files_before, inlined = self._file_counts(connection)
            connection.execute("BEGIN TRANSACTION")
            try:
                rollups.merge(connection, self.alias)
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute(f"CHECKPOINT {self.alias}")
            files_after, _ = self._file_counts(connection)
        seconds = time.perf_counter() - started
        return CompactResult(True, files_before, files_after, inlined, seconds)

    def _file_counts(self, connection: duckdb.DuckDBPyConnection) -> tuple[int, int]:
        """(data files, inlined rows) over the warehouse tables."""
        files = inlined = 0
        for table in SCOPED_TABLES:
            files += connection.execute(
                f"SELECT count(*) FROM ducklake_list_files('{self.alias}', '{table}')"
            ).fetchall()[0][0]
        metadata = f"__ducklake_metadata_{self.alias}.{self.location.metadata_schema or 'main'}"
        for (name,) in connection.execute(
            f"SELECT table_name FROM {metadata}.ducklake_inlined_data_tables"
        ).fetchall():
            inlined += connection.execute(f'SELECT count(*) FROM {metadata}."{name}"').fetchall()[
                0
            ][0]
        return files, inlined

    # -- reads -----------------------------------------------------------------------------

    def reader(self, project_ids: Sequence[uuid.UUID | str]) -> ScopedReader:
        """A read-only view of the warehouse limited to these projects."""
        cursor = self.connection().cursor()
        return ScopedReader(
            cursor,
            self.catalog,
            project_ids,
            rollups_present=rollups.ROLLUP_TABLES,  # ``connection`` made sure of them
            snapshot=snapshot_reader(cursor, self.alias, self.location.metadata_schema),
            cache_scope=self.location.catalog,
        )


@dataclass(slots=True)
class _Ticket:
    """One thread's write waiting for a group commit: runs to append, or another change."""

    batch: RunBatch | None = None
    replace: bool = True
    change: Callable[[duckdb.DuckDBPyConnection], None] | None = None
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


_aliases = itertools.count(1)


def _unique_alias() -> str:
    # One DuckDB instance per process holds every warehouse attached in it (tests attach many).
    number = next(_aliases)
    return ALIAS if number == 1 else f"{ALIAS}_{number}"
