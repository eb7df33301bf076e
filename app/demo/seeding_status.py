"""How far ``scriptflow demo``'s background seeding is, for the dashboard to say so.

The demo writes a small JSON file in the data dir as each run finishes; the dashboard (any
process serving it) reads it. A file last written long ago is a seeding that died: ignored.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

STATUS_FILE = "demo-seeding.json"
# A run takes seconds; a seeding silent for this long is not going on any more.
STALE_AFTER = timedelta(minutes=10)


@dataclass(frozen=True)
class SeedingStatus:
    done: int
    total: int
    finished: bool
    updated_at: datetime

    def headline(self) -> str:
        return f"Seeding demo history: {self.done} of {self.total} runs"


def write_status(data_dir: Path, done: int, total: int, *, finished: bool = False) -> None:
    """Replace the status file (atomically: a reader never sees half of it)."""
    path = data_dir / STATUS_FILE
    payload = {
        "done": done,
        "total": total,
        "finished": finished,
        "updated_at": datetime.now(UTC).isoformat(),
    }
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(payload))
    tmp.replace(path)


def read_status(data_dir: Path, now: datetime | None = None) -> SeedingStatus | None:
    """The seeding going on now, or None (none, finished, stale or unreadable)."""
    try:
        data = json.loads((data_dir / STATUS_FILE).read_text())
        status = SeedingStatus(
            int(data["done"]),
            int(data["total"]),
            bool(data["finished"]),
            datetime.fromisoformat(str(data["updated_at"])),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if status.finished or (now or datetime.now(UTC)) - status.updated_at > STALE_AFTER:
        return None
    return status
