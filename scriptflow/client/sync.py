"""`push` a local folder into a project's tree and `pull` the tree back, byte for byte.

Push packs the files `local_tree.scan` keeps into one in-memory `.tar.gz` and imports it: the
server stores all of it in one transaction or nothing, and says what it created, updated,
left unchanged or skipped. Pull writes each file's current version as its exact UTF-8 bytes
(CRLF and non-ASCII included), skipping files whose bytes already match the tree's SHA-256,
and only where the path stays inside the folder: the server's answer is input like any other.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

from scriptflow.client.api import ServerClient
from scriptflow.client.local_tree import scan
from scriptflow.scripts.archives import SkippedFile, SkipReason
from scriptflow.scripts.paths import path_problem


@dataclass
class PushSummary:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)


@dataclass
class PullSummary:
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


def pack(root: Path, paths: list[str]) -> bytes:
    """A .tar.gz of `paths` under `root`: regular files only, no owners, fixed times."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path in paths:
            data = (root / path).read_bytes()
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def push(client: ServerClient, folder: Path, project: str) -> PushSummary:
    """Sync `folder` into the project's tree (files only ever added or updated, never deleted)."""
    project_id = client.project_id(project)
    tree = scan(folder)
    summary = PushSummary(skipped=list(tree.skipped))
    if tree.files:
        response = client.request(
            "POST",
            f"/v1/projects/{project_id}/import",
            content=pack(tree.root, tree.files),
            headers={"Content-Type": "application/gzip"},
        )
        answer = response.json()
        summary.created = answer["created"]
        summary.updated = answer["updated"]
        summary.unchanged = answer["unchanged"]
        summary.skipped += [
            SkippedFile(item["path"], SkipReason(item["reason"])) for item in answer["skipped"]
        ]
    summary.skipped.sort(key=lambda skipped: skipped.path)
    return summary


def pull(client: ServerClient, folder: Path, project: str) -> PullSummary:
    """Write the project's files at their current versions into `folder`."""
    project_id = client.project_id(project)
    root = folder.resolve()
    root.mkdir(parents=True, exist_ok=True)
    summary = PullSummary()
    for entry in client.get_json(f"/v1/projects/{project_id}/files"):
        path = str(entry["path"])
        target = _inside(root, path)
        if target is None:
            summary.refused.append(path)
            continue
        if target.is_file() and _sha256(target) == entry["sha256"]:
            # Same bytes already: no need to fetch the content.
            summary.unchanged.append(path)
            continue
        content = client.get_json(f"/v1/scripts/{entry['id']}")["content"]
        _write(target, str(content).encode("utf-8"))
        summary.written.append(path)
    return summary


def _inside(root: Path, path: str) -> Path | None:
    """Where `path` goes under `root`, or None when it cannot go there safely."""
    if path_problem(path) is not None:
        return None
    target = root / path
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError:
        # A local file stands where a folder of the tree goes.
        return None
    # A symlinked folder inside `root` must not carry the write outside it.
    if not target.parent.resolve().is_relative_to(root) or target.is_symlink():
        return None
    return target


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write(target: Path, data: bytes) -> None:
    temporary = target.with_name(f".{target.name}.scriptflow-pull")
    with open(temporary, "wb") as out:
        out.write(data)
    os.replace(temporary, target)
