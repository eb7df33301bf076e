"""A throw-away PostgreSQL cluster on a temp dir and a loopback port (tests, benchmarks)."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

PG_BIN_CANDIDATES = [
    Path(p) for p in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
]


class PostgresUnavailable(RuntimeError):
    pass


def find_pg_bin() -> Path:
    for name in ("initdb", "pg_ctl"):
        found = shutil.which(name)
        if found:
            return Path(os.path.realpath(found)).parent
    for candidate in PG_BIN_CANDIDATES:
        if (candidate / "initdb").exists():
            return candidate
    raise PostgresUnavailable(
        "PostgreSQL server binaries not found; install Debian's `postgresql` package"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PostgresCluster:
    datadir: Path
    port: int
    bin_dir: Path
    run_as: str | None

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _cmd(self, *args: str) -> list[str]:
        cmd = [str(self.bin_dir / args[0]), *args[1:]]
        return ["runuser", "-u", self.run_as, "--", *cmd] if self.run_as else cmd

    def url_for(self, name: str) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{name}"

    def psql(self, sql: str) -> None:
        subprocess.run(
            self._cmd("psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                      "-d", "postgres", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql),
            check=True, capture_output=True,
        )  # fmt: skip

    def create_database(self, name: str) -> str:
        self.psql(f'CREATE DATABASE "{name}"')
        return self.url_for(name)

    def create_database_from_template(self, name: str, template: str) -> str:
        """A copy of an already-migrated database; much faster than migrating again.

        FILE_COPY copies the template's files; PostgreSQL 15's default (WAL_LOG) writes every
        block through the WAL as well, three times slower for a database this small.
        """
        self.psql(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY')
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        """Gone with any connection a test left open, so a long session stays small on disk."""
        self.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        subprocess.run(
            self._cmd("pg_ctl", "-D", str(self.datadir), "-m", "immediate", "stop"),
            capture_output=True,
        )
        shutil.rmtree(self.datadir.parent, ignore_errors=True)


def start_cluster() -> PostgresCluster:
    """initdb + pg_ctl start with fsync off; about half a second. Caller must stop()."""
    bin_dir = find_pg_bin()
    base = Path(tempfile.mkdtemp(prefix="scriptflow-pg-"))
    datadir = base / "data"
    run_as = None
    if os.geteuid() == 0:  # initdb refuses root; run the server as the packaged user
        try:
            pwd.getpwnam("postgres")
        except KeyError as exc:
            raise PostgresUnavailable("running as root and no `postgres` user exists") from exc
        run_as = "postgres"
        shutil.chown(base, "postgres")
        base.chmod(0o700)
    port = free_port()
    cluster = PostgresCluster(datadir, port, bin_dir, run_as)
    init = subprocess.run(
        cluster._cmd("initdb", "-D", str(datadir), "-U", "postgres", "--auth=trust",
                     "--no-sync", "-E", "UTF8", "--locale=C"),
        capture_output=True, text=True,
    )  # fmt: skip
    if init.returncode != 0:
        raise PostgresUnavailable(f"initdb failed: {init.stderr.strip()[-500:]}")
    opts = (
        f"-c listen_addresses=127.0.0.1 -c port={port} -c fsync=off -c synchronous_commit=off "
        f"-c full_page_writes=off -c unix_socket_directories={base} -c max_connections=200"
    )
    start = subprocess.run(
        cluster._cmd("pg_ctl", "-D", str(datadir), "-o", opts, "-l", str(base / "log"),
                     "-w", "-t", "30", "start"),
        capture_output=True, text=True,
    )  # fmt: skip
    if start.returncode != 0:
        log = (base / "log").read_text() if (base / "log").exists() else ""
        raise PostgresUnavailable(f"pg_ctl start failed: {start.stderr.strip()} {log[-500:]}")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return cluster
        time.sleep(0.05)
    cluster.stop()
    raise PostgresUnavailable("PostgreSQL did not accept connections within 10 s")
