"""Attaching the embedded lake while another process holds its SQLite catalog locked."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from scriptflow.insights import warehouse_attach
from scriptflow.insights.lake import CATALOG_FILE, AnalyticsUnavailable
from scriptflow.insights.warehouse import Warehouse
from tests.insights.history import Run, batch, login_steps

# DuckDB's sqlite extension waits this long for a lock before "database is locked".
SQLITE_BUSY_S = 5.0
PROJECT, SCRIPT = str(uuid.uuid4()), str(uuid.uuid4())


@contextmanager
def catalog_locked(catalog: Path, seconds: float) -> Iterator[subprocess.Popen[str]]:
    """Another process holds the catalog exclusively for ``seconds`` (as a commit does)."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sqlite3, time
                connection = sqlite3.connect({str(catalog)!r}, isolation_level=None)
                connection.execute("BEGIN EXCLUSIVE")
                print("locked", flush=True)
                time.sleep({seconds})
                connection.execute("ROLLBACK")
                """
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        yield holder
    finally:
        holder.kill()
        holder.wait()


@pytest.fixture
def lake_dir(tmp_path: Path) -> Path:
    """A lake with one run in it, made and detached (the catalog file exists)."""
    made = Warehouse.for_data_dir(tmp_path)
    made.append(batch([Run(SCRIPT, PROJECT, steps=login_steps())]))
    made.close()
    return tmp_path


def catalog_of(lake_dir: Path) -> Path:
    found = list(lake_dir.rglob(CATALOG_FILE))
    assert len(found) == 1
    return found[0]


def test_a_catalog_locked_past_sqlites_wait_is_attached_on_the_next_look(
    lake_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    later = Warehouse.for_data_dir(lake_dir)
    started = time.monotonic()
    with (
        caplog.at_level(logging.WARNING, logger=warehouse_attach.__name__),
        catalog_locked(catalog_of(lake_dir), SQLITE_BUSY_S + 1.0),
        later.reader([PROJECT]) as reader,
    ):
        counted = reader.rows("SELECT count(*) FROM runs")
    try:
        assert time.monotonic() - started > SQLITE_BUSY_S  # the first look did wait and fail
        assert counted == [(1,)]
        assert "locked on attach (attempt 1)" in caplog.text
    finally:
        later.close()


def test_a_catalog_that_stays_locked_is_unavailable_not_an_engine_error(
    lake_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(warehouse_attach, "LOCKED_ATTEMPTS", 1)
    later = Warehouse.for_data_dir(lake_dir)
    with (
        catalog_locked(catalog_of(lake_dir), SQLITE_BUSY_S + 3.0),
        pytest.raises(AnalyticsUnavailable) as raised,
    ):
        later.reader([PROJECT])
    assert raised.value.details == {"reason": "catalog locked", "attempts": 1}
    # Nothing half-attached is left behind: once the lock is gone the same warehouse attaches.
    with later.reader([PROJECT]) as reader:
        assert reader.rows("SELECT count(*) FROM runs") == [(1,)]
    later.close()
