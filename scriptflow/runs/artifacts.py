"""Artifacts leave a run only by copy: from its (hostile) folder into a store it cannot reach.

The run writes its artifacts and a manifest (``results.json``) itself, so neither is trusted:

- only names from the manifest, each a plain file name (no ``/``, no dot file), are looked at,
  opened relative to the artifacts dir (``O_NOFOLLOW``, the dir itself opened ``O_NOFOLLOW``
  too), and kept only if ``fstat`` shows a regular file with one link on the dir's device
  (no symlink, FIFO, device or hard link to something else);
- each is copied into a fresh store folder, stopping at the cap while copying (the size is
  what was copied, never what the manifest says); the content type comes from the kind and
  the name, never from the manifest;
- nothing in the run dir is ever truncated, chmod-ed, followed or written by the worker.

The artifact endpoint serves files from the store only (``served_path``).
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STORE_DIR = "artifacts"  # under the data dir: <data_dir>/artifacts/<run id>/<name>
MAX_ARTIFACTS = 100
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
KINDS = ("trace", "screenshot", "console", "log")
CONTENT_TYPES = {".zip": "application/zip", ".png": "image/png", ".log": "text/plain"}
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class StoredArtifact:
    name: str
    kind: str
    content_type: str
    size_bytes: int
    path: Path
    truncated: bool


def content_type_for(name: str) -> str:
    """By extension; anything unexpected downloads as bytes, never renders."""
    return CONTENT_TYPES.get(Path(name).suffix.lower(), "application/octet-stream")


def wanted_entries(manifest: Iterable[Any]) -> list[tuple[str, str, bool]]:
    """(name, kind, truncated) of the manifest entries worth looking at (pure)."""
    seen: set[str] = set()
    wanted = []
    for entry in manifest:
        if not isinstance(entry, Mapping):
            continue
        name, kind = entry.get("name"), entry.get("kind")
        if not isinstance(name, str) or not SAFE_NAME.match(name) or name in seen:
            continue
        if kind not in KINDS:
            continue
        seen.add(name)
        wanted.append((name, str(kind), bool(entry.get("truncated"))))
        if len(wanted) >= MAX_ARTIFACTS:
            break
    return wanted


def collect(
    manifest: Iterable[Any],
    artifacts_dir: Path,
    store: Path,
    *,
    max_bytes: int,
    max_total_bytes: int,
) -> list[StoredArtifact]:
    """Copy the manifest's regular files from ``artifacts_dir`` into ``store`` (created)."""
    store.mkdir(parents=True, exist_ok=True)
    try:
        dir_fd = os.open(artifacts_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return []
    stored: list[StoredArtifact] = []
    total = 0
    try:
        device = os.fstat(dir_fd).st_dev
        for name, kind, truncated in wanted_entries(manifest):
            room = min(max_bytes, max_total_bytes - total)
            if room <= 0:
                break
            copied = _copy_entry(dir_fd, device, name, store / name, room)
            if copied is None:
                continue
            size, cut = copied
            total += size
            stored.append(
                StoredArtifact(
                    name, kind, content_type_for(name), size, store / name, truncated or cut
                )
            )
    finally:
        os.close(dir_fd)
    return stored


def store_file(source: Path, store: Path, name: str, *, max_bytes: int) -> StoredArtifact | None:
    """Copy one file the worker itself wrote (the run's output log), capped."""
    try:
        dir_fd = os.open(source.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        store.mkdir(parents=True, exist_ok=True)
        copied = _copy_entry(dir_fd, os.fstat(dir_fd).st_dev, source.name, store / name, max_bytes)
    finally:
        os.close(dir_fd)
    if copied is None or copied[0] == 0:
        (store / name).unlink(missing_ok=True)
        return None
    return StoredArtifact(name, "log", content_type_for(name), copied[0], store / name, copied[1])


def _copy_entry(
    dir_fd: int, device: int, name: str, target: Path, max_bytes: int
) -> tuple[int, bool] | None:
    """(bytes copied, cut at the cap) or None when ``name`` is not a plain private file."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(name, flags, dir_fd=dir_fd)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1 or info.st_dev != device:
            return None
        out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o640)
        copied = 0
        try:
            while copied < max_bytes:
                chunk = os.read(fd, min(_CHUNK, max_bytes - copied))
                if not chunk:
                    return copied, False
                view = memoryview(chunk)
                while view:
                    view = view[os.write(out, view) :]
                copied += len(chunk)
            return copied, bool(os.read(fd, 1))
        finally:
            os.close(out)
    finally:
        os.close(fd)


def read_run_file(folder: Path, name: str, max_bytes: int) -> bytes | None:
    """The content of a file the run wrote (its results), read without following links."""
    try:
        dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        fd = os.open(
            name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd
        )
    except OSError:
        os.close(dir_fd)
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
            return None
        if info.st_dev != os.fstat(dir_fd).st_dev or info.st_size > max_bytes:
            return None
        with os.fdopen(os.dup(fd), "rb") as fh:
            return fh.read(max_bytes)
    finally:
        os.close(fd)
        os.close(dir_fd)


def store_folder(data_dir: Path, run_id: object) -> Path:
    """Where one run's collected artifacts live."""
    return data_dir / STORE_DIR / str(run_id)


def served_path(data_dir: Path, path: Path) -> Path | None:
    """``path`` if it is a regular file inside the artifact store (not a link), else None."""
    root = (data_dir / STORE_DIR).resolve()
    try:
        info = path.lstat()
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode) or not path.resolve().is_relative_to(root):
        return None
    return path
