"""The demo's seeding status as the dashboard reads it: going on, finished, stale, unreadable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from app.demo.seeding_status import STATUS_FILE, read_status, write_status


def test_a_seeding_in_progress_reads_as_done_of_total(tmp_path: Path) -> None:
    assert read_status(tmp_path) is None
    write_status(tmp_path, 7, 20)
    status = read_status(tmp_path)
    assert status is not None and status.headline() == "Seeding demo history: 7 of 20 runs"
    write_status(tmp_path, 0, 0, finished=True)
    assert read_status(tmp_path) is None


def test_a_stale_or_broken_status_is_no_seeding(tmp_path: Path) -> None:
    write_status(tmp_path, 3, 20)
    assert read_status(tmp_path, now=datetime.now(UTC) + timedelta(hours=1)) is None
    (tmp_path / STATUS_FILE).write_text('{"done": "x"')
    assert read_status(tmp_path) is None
