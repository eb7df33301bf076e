"""Which file of a suite run's pinned snapshot a test belongs to, and the row it counts in.

A suite or shard run pins the tree it ran (``{path: [script_id, version]}``); each of its tests
belongs to the file its ``file`` or node id names, and through the snapshot to that file's script
and version. The snapshot is read back from the database, so anything malformed counts as absent.
"""

from __future__ import annotations

import uuid
from typing import Any


def file_of_test(file: str | None, nodeid: str | None) -> str | None:
    """The tree path of a test: the ``file`` it was recorded with, else its node id's file."""
    if file:
        return file
    if nodeid and "::" in nodeid:
        return nodeid.split("::", 1)[0]
    return None


def snapshot_items(snapshot: Any) -> list[tuple[str, Any]]:
    """The snapshot's (path, entry) pairs; none when it is not a mapping."""
    return list(snapshot.items()) if isinstance(snapshot, dict) else []


def pinned_file(snapshot: Any, path: str | None) -> tuple[str, int] | None:
    """``(script_id, version)`` the snapshot pinned at ``path``; None when it holds no such file.
    The snapshot is read back from the database: anything malformed counts as absent."""
    if path is None or not isinstance(snapshot, dict):
        return None
    entry = snapshot.get(path)
    if not isinstance(entry, (list, tuple)) or len(entry) != 2:
        return None
    script, version = entry
    try:
        return str(uuid.UUID(str(script))), int(version)
    except (ValueError, TypeError):
        return None


# A suite run's status as one file's: the run's own when it did not finish its work.
_UNFINISHED = frozenset({"error", "cancelled"})


def file_run_row(
    test: Any,
    single: dict[uuid.UUID, dict[str, Any]],
    runs: dict[tuple[uuid.UUID, str], dict[str, Any]],
    spanning: dict[uuid.UUID, Any],
    only_script: str | None,
) -> dict[str, Any] | None:
    """The ``runs`` row a test counts in: its file run's, or for a suite run the row of the
    file its node id names (made on its first test and updated with each of them)."""
    if test.run_id not in spanning:
        return single.get(test.run_id)
    row, base = spanning[test.run_id]
    pinned = pinned_file(row.snapshot, file_of_test(test.file, test.name))
    if pinned is None or (only_script is not None and pinned[0] != only_script):
        return None
    key = (test.run_id, pinned[0])
    run = runs.get(key)
    if run is None:
        run = {
            **base,
            "script_id": pinned[0],
            "script_version": pinned[1],
            "status": base["status"] if base["status"] in _UNFINISHED else "passed",
            "duration_ms": 0,
            "error": base["error"] if base["status"] in _UNFINISHED else None,
        }
        runs[key] = run
    run["duration_ms"] += test.duration_ms or 0
    if test.outcome in ("failed", "error") and run["status"] not in _UNFINISHED:
        run["status"] = "failed"
        run["error"] = run["error"] or test.error
    return run
