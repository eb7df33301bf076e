"""A run's private scratch folder, and the sweep of folders whose owner died.

Each run works in a ``sf-run-*`` folder under the temp dir that the executor removes when the
run ends. A process killed outright (SIGKILL, the machine's OOM killer, a power cut of the
container) runs no clean-up, so its folders stayed behind: staged project files, logs and
artifacts, one set per killed run, for as long as the machine lives.

The owner therefore holds an exclusive ``flock`` on a file inside its folder for as long as the
run lasts. The kernel drops the lock when the process dies, however it dies, so another
executor that can take the lock knows the owner is gone and removes the folder. Processes on
the same machine sharing one temp dir (two workers, a worker and the tests) never remove each
other's live folders; a folder without the lock file (made by someone else, or still being
made) is left alone.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PREFIX = "sf-run-"
OWNER_LOCK = ".owner.lock"

logger = logging.getLogger(__name__)


@dataclass
class Scratch:
    """A claimed folder; ``release`` removes it and drops the lock."""

    path: Path
    _lock_fd: int

    def release(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
        with contextlib.suppress(OSError):
            os.close(self._lock_fd)


def claim(root: str | os.PathLike[str] | None = None) -> Scratch:
    """A new private folder under ``root`` (the temp dir by default), locked by this process.

    The lock's descriptor is not inheritable: the run's own processes never hold it, so a
    sandbox that outlives a killed executor does not keep its folder from the sweep.
    """
    path = Path(tempfile.mkdtemp(prefix=PREFIX, dir=root))
    # Locked under another name, then renamed: a sweep never sees the lock file unlocked.
    making = path / (OWNER_LOCK + ".new")
    fd = os.open(making, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.rename(making, path / OWNER_LOCK)
    return Scratch(path, fd)


def _orphans(root: Path) -> Iterator[Path]:
    with contextlib.suppress(OSError):
        for entry in root.iterdir():
            if not entry.name.startswith(PREFIX) or entry.is_symlink() or not entry.is_dir():
                continue
            try:
                fd = os.open(entry / OWNER_LOCK, os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW)
            except OSError:
                continue  # not ours, or its owner has not locked it yet
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue  # its owner is alive
            finally:
                os.close(fd)
            yield entry


def sweep_orphans(root: str | os.PathLike[str] | None = None) -> int:
    """Remove the scratch folders under ``root`` whose owning process has died; how many."""
    removed = 0
    for path in _orphans(Path(root if root is not None else tempfile.gettempdir())):
        shutil.rmtree(path, ignore_errors=True)
        if not path.exists():
            removed += 1
    if removed:
        logger.info("removed %d scratch folders left by killed runs", removed)
    return removed
