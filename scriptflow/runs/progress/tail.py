"""Read what a run appended to its progress file since the last look, as a hostile file.

The file is opened without following links, must be a regular file with one link on the run's
own file system, and is read from where the last read stopped, within a byte budget per read
and per run. A line longer than the cap is skipped whole; a file that shrank (replaced or
truncated by the script) is not read again.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from scriptflow.runs.progress.parse import MAX_LINE_BYTES

PROGRESS_FILE = "progress.jsonl"  # as the plugin names it (scriptflow.runs.engine.record)
MAX_READ_BYTES = 256 * 1024
MAX_TOTAL_BYTES = 2 * 1024 * 1024


class ProgressTail:
    """Complete new lines of one run's progress file, one read at a time."""

    def __init__(self, folder: Path, *, max_total_bytes: int = MAX_TOTAL_BYTES) -> None:
        self.folder = folder
        self.max_total_bytes = max_total_bytes
        self.offset = 0
        self.stopped = False
        self._partial = b""
        self._skipping = False  # inside a line longer than the cap

    def read_lines(self) -> list[bytes]:
        """The complete lines written since the last call (blocking: call it in a thread)."""
        if self.stopped:
            return []
        budget = min(MAX_READ_BYTES, self.max_total_bytes - self.offset)
        if budget <= 0:
            self.stopped = True
            return []
        chunk = self._read(budget)
        if not chunk:
            return []
        self.offset += len(chunk)
        return self._split(chunk)

    def _read(self, budget: int) -> bytes:
        try:
            dir_fd = os.open(self.folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError:
            return b""
        try:
            flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
            fd = os.open(PROGRESS_FILE, flags, dir_fd=dir_fd)
        except OSError:
            os.close(dir_fd)
            return b""
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
                self.stopped = True
                return b""
            if info.st_dev != os.fstat(dir_fd).st_dev:
                self.stopped = True
                return b""
            if info.st_size < self.offset:
                self.stopped = True  # rewritten behind our back: what follows is not a tail
                return b""
            return os.pread(fd, budget, self.offset)
        finally:
            os.close(fd)
            os.close(dir_fd)

    def _split(self, chunk: bytes) -> list[bytes]:
        data = self._partial + chunk
        *lines, rest = data.split(b"\n")
        if self._skipping and lines:
            lines, self._skipping = lines[1:], False  # the end of the oversized line
        if self._skipping or len(rest) > MAX_LINE_BYTES:
            self._partial, self._skipping = b"", True
        else:
            self._partial = rest
        return [line for line in lines if line.strip()]
