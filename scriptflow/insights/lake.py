"""Where the DuckLake warehouse lives: its catalog, its data files, its one-writer lock.

The catalog sits next to the source of truth: a schema of the PostgreSQL database, or on the
embedded default a SQLite file under ``<data dir>/analytics/``. That file stays in SQLite's
rollback-journal mode: in WAL mode, a commit from one process while another process read the
catalog was silently lost (DuckLake 1.5.5's SQLite catalog; the journal mode makes the writer
wait and retry instead). Data files (Parquet) go under
``SCRIPTFLOW_ANALYTICS_DATA_PATH``: a local or shared directory, or ``s3://…`` through httpfs.

Writers take one deployment-wide lock (a PostgreSQL advisory lock, or ``flock`` on a file beside
the SQLite catalog): a sync checks which runs are missing and appends them in one step, so two
processes syncing the same run never both append it. Readers take no lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import duckdb

from scriptflow.config import Settings
from scriptflow.errors import ScriptflowError
from scriptflow.insights.duckdb_extensions import load_extensions

ALIAS = "analytics"
CATALOG_FILE = "catalog.sqlite"
# Any 64-bit number no other advisory lock of ours uses; "scriptflow analytics" in ASCII hex.
ADVISORY_LOCK_KEY = 0x73666C616B65_01
# Appends below this many rows per table live in the catalog until compaction writes them out
# (a finished run is a few dozen rows: one Parquet file each would need merging at once).
INLINE_ROWS = 5_000
# How old replaced files and snapshots must be before compaction deletes them: a reader in
# another process may still be scanning a file a merge replaced.
RETAIN = "1 hour"


class AnalyticsUnavailable(ScriptflowError):
    """The analytics catalog or its data files cannot be reached (the SQL database has it all)."""

    status_code = 503
    code = "ANALYTICS_UNAVAILABLE"


def catalog_locked(error: Exception) -> bool:
    """SQLite's busy wait on the embedded catalog ran out (DuckDB's or Python's sqlite)."""
    return "database is locked" in str(error)


class WriterLock(Protocol):
    """One writer at a time for the whole deployment."""

    def hold(self, *, wait: bool = True) -> Any: ...


@dataclass(frozen=True)
class LakeLocation:
    """One DuckLake: how to attach its catalog and where its files go."""

    catalog: str  # DuckLake's metadata spec: "postgres:<libpq URI>" or "sqlite:<file>"
    data_path: str
    metadata_schema: str | None
    lock_target: str  # the libpq URI (advisory lock) or the lock file path
    s3: dict[str, str] | None = None

    @classmethod
    def for_settings(cls, settings: Settings) -> LakeLocation:
        """The lake of a deployment: PostgreSQL's schema, or the embedded file."""
        dsn = settings.libpq_database_url
        on_s3 = settings.resolved_analytics_data_path.startswith("s3://")
        s3 = _s3_options(settings) if on_s3 else None
        if dsn is not None:
            return cls(
                catalog=f"postgres:{dsn}",
                data_path=settings.resolved_analytics_data_path,
                metadata_schema=settings.analytics_catalog_schema,
                lock_target=dsn,
                s3=s3,
            )
        return cls.embedded(settings.data_dir, settings.resolved_analytics_data_path, s3=s3)

    @classmethod
    def embedded(
        cls, data_dir: Path, data_path: str | None = None, *, s3: dict[str, str] | None = None
    ) -> LakeLocation:
        """The embedded default: a SQLite catalog file and data files under the data dir."""
        folder = data_dir / "analytics"
        return cls(
            catalog=f"sqlite:{folder / CATALOG_FILE}",
            data_path=data_path or f"{folder / 'lake'}/",
            metadata_schema=None,
            lock_target=str(folder / "writer.lock"),
            s3=s3,
        )

    @property
    def on_postgres(self) -> bool:
        return self.catalog.startswith("postgres:")

    def writer_lock(self) -> WriterLock:
        if self.on_postgres:
            return AdvisoryLock(self.lock_target)
        return FileLock(Path(self.lock_target))

    def catalog_exists(self) -> bool:
        """Whether the catalog was created (by ``scriptflow migrate`` or a first writer)."""
        if self.on_postgres:
            import psycopg

            with psycopg.connect(self.lock_target, autocommit=True) as connection:
                row = connection.execute(
                    "SELECT to_regclass(%s)", (f"{self.metadata_schema}.ducklake_metadata",)
                ).fetchone()
            return bool(row and row[0])
        path = Path(self.catalog.removeprefix("sqlite:"))
        if not path.exists():
            return False
        with sqlite3.connect(path) as connection:
            row = connection.execute(
                "SELECT 1 FROM sqlite_master WHERE name = 'ducklake_metadata'"
            ).fetchone()
        return row is not None

    def attach(self, alias: str, *, create: bool = False) -> duckdb.DuckDBPyConnection:
        """A connection of this process's DuckDB with the lake attached as ``alias``."""
        connection = shared_duckdb().cursor()
        try:
            if self.s3 is not None or self.data_path.startswith("s3://"):
                load_extensions(connection, "httpfs")
                _create_s3_secret(connection, self.s3 or {})
            if not self.on_postgres:
                catalog_file = Path(self.catalog.removeprefix("sqlite:"))
                catalog_file.parent.mkdir(parents=True, exist_ok=True)
            if not self.data_path.startswith("s3://"):
                Path(self.data_path).mkdir(parents=True, exist_ok=True)
            options = [f"DATA_PATH '{_quote(self.data_path)}'"] if create else []
            if self.metadata_schema:
                options.append(f"METADATA_SCHEMA '{self.metadata_schema}'")
            suffix = f" ({', '.join(options)})" if options else ""
            try:
                connection.execute(f"ATTACH 'ducklake:{_quote(self.catalog)}' AS {alias}{suffix}")
            except duckdb.Error as error:
                # The message may quote the connection string; never pass it on.
                locked = catalog_locked(error)
                raise AnalyticsUnavailable(
                    "The analytics catalog cannot be attached",
                    details={"reason": "catalog locked" if locked else type(error).__name__},
                ) from None
        except BaseException:
            connection.close()
            raise
        return connection


_shared: duckdb.DuckDBPyConnection | None = None
_shared_lock = threading.Lock()


def shared_duckdb() -> duckdb.DuckDBPyConnection:
    """This process's one DuckDB instance, extensions loaded (each instance verifies ~100 MB of
    signed extension binaries again: about a second per instance on a loaded machine)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            connection = duckdb.connect(config={"allow_unsigned_extensions": False})
            load_extensions(connection, "ducklake", "sqlite", "postgres")
            # Retries of a commit that lost a race, short: writers are serialised by our lock,
            # this only covers compaction racing an append.
            connection.execute("SET ducklake_retry_wait_ms = 20")
            _shared = connection
        return _shared


def _quote(value: str) -> str:
    return value.replace("'", "''")


def _s3_options(settings: Settings) -> dict[str, str]:
    options = {"REGION": settings.s3_region, "URL_STYLE": "path"}
    if settings.s3_endpoint_url:
        endpoint = settings.s3_endpoint_url
        options["USE_SSL"] = "false" if endpoint.startswith("http://") else "true"
        options["ENDPOINT"] = endpoint.split("://", 1)[-1].rstrip("/")
    if settings.s3_access_key_id:
        options["KEY_ID"] = settings.s3_access_key_id
    if settings.s3_secret_access_key:
        options["SECRET"] = settings.s3_secret_access_key.get_secret_value()
    return options


def _create_s3_secret(connection: duckdb.DuckDBPyConnection, options: dict[str, str]) -> None:
    parts = ["TYPE s3"]
    for key, value in options.items():
        literal = value if key == "USE_SSL" else f"'{_quote(value)}'"
        parts.append(f"{key} {literal}")
    connection.execute(f"CREATE OR REPLACE TEMPORARY SECRET scriptflow_s3 ({', '.join(parts)})")


def create_catalog(location: LakeLocation, ddl: str, alias: str = ALIAS) -> bool:
    """Create the catalog and its tables once (``scriptflow migrate``); False if it existed.

    Two processes attaching a fresh catalog at once would both try to create it: creation runs
    under the writer lock and checks again inside it.
    """
    if location.catalog_exists():
        return False
    with location.writer_lock().hold():
        if location.catalog_exists():
            return False
        name = f"{alias}_create"
        connection = location.attach(name, create=True)
        try:
            connection.execute(f"USE {name}")
            connection.execute("BEGIN TRANSACTION")  # one snapshot, one catalog commit
            connection.execute(ddl)
            connection.execute(f"CALL {name}.set_option('data_inlining_row_limit', {INLINE_ROWS})")
            connection.execute(f"CALL {name}.set_option('expire_older_than', '{RETAIN}')")
            connection.execute(f"CALL {name}.set_option('delete_older_than', '{RETAIN}')")
            connection.execute("COMMIT")
            connection.execute("USE memory")
            connection.execute(f"DETACH {name}")
        finally:
            connection.close()
    return True


class FileLock:
    """``flock`` on a file beside the SQLite catalog, plus a lock for this process's threads."""

    _threads: dict[Path, threading.Lock] = {}
    _registry = threading.Lock()

    def __init__(self, path: Path) -> None:
        self.path = path
        with self._registry:
            self._thread_lock = self._threads.setdefault(path, threading.Lock())

    @contextmanager
    def hold(self, *, wait: bool = True) -> Iterator[bool]:
        """Held for the block; with ``wait=False`` yields False at once when taken."""
        if not self._thread_lock.acquire(blocking=wait):
            yield False
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
                except BlockingIOError:
                    yield False
                    return
                yield True
            finally:
                os.close(fd)  # closing releases the flock
        finally:
            self._thread_lock.release()


class AdvisoryLock:
    """A PostgreSQL session advisory lock, on one connection per process kept for it."""

    _connections: dict[str, Any] = {}
    _registry = threading.Lock()

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        with self._registry:
            self._thread_lock = FileLock._threads.setdefault(Path(f"pg:{dsn}"), threading.Lock())

    def _connection(self) -> Any:
        import psycopg

        connection = self._connections.get(self.dsn)
        if connection is None or connection.closed:
            # A fresh connection per append cost tens of milliseconds under load.
            connection = psycopg.connect(self.dsn, autocommit=True)
            self._connections[self.dsn] = connection
        return connection

    @contextmanager
    def hold(self, *, wait: bool = True) -> Iterator[bool]:
        """Held for the block; with ``wait=False`` yields False at once when taken."""
        import psycopg

        if not self._thread_lock.acquire(blocking=wait):
            yield False
            return
        try:
            try:
                connection = self._connection()
                taken = self._take(connection, wait)
            except psycopg.OperationalError:
                self._connections.pop(self.dsn, None)  # the server went away: once more
                connection = self._connection()
                taken = self._take(connection, wait)
            if not taken:
                yield False
                return
            try:
                yield True
            finally:
                connection.execute("SELECT pg_advisory_unlock(%s)", (ADVISORY_LOCK_KEY,))
        finally:
            self._thread_lock.release()

    @staticmethod
    def _take(connection: Any, wait: bool) -> bool:
        if wait:
            connection.execute("SELECT pg_advisory_lock(%s)", (ADVISORY_LOCK_KEY,))
            return True
        row = connection.execute("SELECT pg_try_advisory_lock(%s)", (ADVISORY_LOCK_KEY,)).fetchone()
        return bool(row and row[0])


# Not the writer lock's key: the drain writer holds this one for as long as it lives.
DRAIN_LOCK_KEY = 0x73666C616B65_02


class DrainElection:
    """Which process of the deployment is the lake writer that drains the warehouse queue.

    On PostgreSQL a session advisory lock on a connection kept for it: the process holding it
    is the writer until it exits or loses the connection (the server then frees the lock and
    the next process to try takes over). The connection also LISTENs on the queue's channel,
    so the writer wakes at once when a run is queued. On the embedded default an ``flock`` on
    a file beside the catalog: one writer per data dir. Blocking calls: use from a thread.
    """

    def __init__(self, location: LakeLocation, channel: str) -> None:
        self.location = location
        self.channel = channel
        self._connection: Any = None
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._connection is not None or self._fd is not None

    def try_take(self) -> bool:
        """Become the writer if no other process is; True while this process is it."""
        if self.held:
            return True
        if self.location.on_postgres:
            import psycopg

            try:
                connection = psycopg.connect(self.location.lock_target, autocommit=True)
            except psycopg.OperationalError:
                return False
            row = connection.execute(
                "SELECT pg_try_advisory_lock(%s)", (DRAIN_LOCK_KEY,)
            ).fetchone()
            if not (row and row[0]):
                connection.close()
                return False
            connection.execute(f"LISTEN {self.channel}")
            self._connection = connection
            return True
        path = Path(self.location.lock_target).with_name("drain.lock")
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def wait(self, timeout_s: float, local: threading.Event) -> bool:
        """Sleep until a run is queued (PostgreSQL's NOTIFY; on the embedded default, ``local``
        set by this process's enqueue) or ``timeout_s`` passed; True when woken."""
        if self._connection is None:
            woken = local.wait(timeout_s)
            local.clear()
            return woken
        import psycopg

        try:
            return any(True for _ in self._connection.notifies(timeout=timeout_s, stop_after=1))
        except psycopg.OperationalError:
            # The connection went, and the lock with it: another process may be the writer now.
            self.release()
            return True

    def release(self) -> None:
        """Stop being the writer (shutdown, a lost connection)."""
        if self._connection is not None:
            with contextlib.suppress(Exception):
                self._connection.close()
            self._connection = None
        if self._fd is not None:
            os.close(self._fd)  # closing releases the flock
            self._fd = None
