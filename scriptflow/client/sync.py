"""`push` a local folder into a project's tree and `pull` the tree back, byte for byte.

Push packs the files `local_tree.scan` keeps into one in-memory `.tar.gz` and imports it: the
server stores all of it in one transaction or nothing, and says what it created, updated,
left unchanged or skipped. An archive over the server's body cap (413) is sent in parts, each
its own import. ``--delete`` then deletes the files the folder no longer has; ``--dry-run``
says what a push would do without changing anything.

Pull writes each file's current version as its exact UTF-8 bytes (CRLF and non-ASCII
included), skipping files whose bytes already match the tree's SHA-256, and only where the
path stays inside the folder: the server's answer is input like any other.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scriptflow.client.api import ServerClient, ServerError
from scriptflow.client.local_tree import scan
from scriptflow.scripts.archives import SkippedFile, SkipReason
from scriptflow.scripts.paths import path_problem

TREE_PAGE = 200


@dataclass
class PushSummary:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    # How many archives the push was sent as (more than one when the body cap split it).
    parts: int = 1


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


def tree_listing(client: ServerClient, project_id: str) -> list[dict[str, Any]]:
    """Every file of the project's tree, following the listing's pages."""
    entries: list[dict[str, Any]] = []
    url: str | None = f"/v1/projects/{project_id}/files?limit={TREE_PAGE}"
    while url:
        response = client.request("GET", url)
        entries += response.json()
        url = response.links.get("next", {}).get("url")
    return entries


def push(
    client: ServerClient,
    folder: Path,
    project: str,
    *,
    delete: bool = False,
    dry_run: bool = False,
) -> PushSummary:
    """Sync `folder` into the project's tree: files are added or updated; with ``delete``,
    files the folder no longer has are deleted from the project (with their history). With
    ``dry_run`` nothing is sent: the summary says what a push would do, from the tree's
    SHA-256s."""
    project_id = client.project_id(project)
    tree = scan(folder)
    summary = PushSummary(skipped=list(tree.skipped))
    listing = tree_listing(client, project_id) if delete or dry_run else []
    remote = {str(entry["path"]): entry for entry in listing}
    if dry_run:
        for path in tree.files:
            entry = remote.get(path)
            if entry is None:
                summary.created.append(path)
            elif _sha256(tree.root / path) == entry["sha256"]:
                summary.unchanged.append(path)
            else:
                summary.updated.append(path)
    elif tree.files:
        _import(client, project_id, tree.root, tree.files, summary)
    if delete:
        local = set(tree.files)
        for path, entry in sorted(remote.items()):
            if path in local:
                continue
            if not dry_run:
                client.request("DELETE", f"/v1/scripts/{entry['id']}")
            summary.deleted.append(path)
    summary.skipped.sort(key=lambda skipped: skipped.path)
    return summary


def _import(
    client: ServerClient, project_id: str, root: Path, paths: list[str], summary: PushSummary
) -> None:
    """Import `paths` as one archive; one the server's body cap refuses (413) is split in
    halves until every part fits (each part is then its own all-or-nothing import)."""
    try:
        response = client.request(
            "POST",
            f"/v1/projects/{project_id}/import",
            content=pack(root, paths),
            headers={"Content-Type": "application/gzip"},
        )
    except ServerError as error:
        if error.status_code != 413 or len(paths) == 1:
            raise
        middle = len(paths) // 2
        summary.parts += 1
        _import(client, project_id, root, paths[:middle], summary)
        _import(client, project_id, root, paths[middle:], summary)
        return
    answer = response.json()
    summary.created += answer["created"]
    summary.updated += answer["updated"]
    summary.unchanged += answer["unchanged"]
    summary.skipped += [
        SkippedFile(item["path"], SkipReason(item["reason"])) for item in answer["skipped"]
    ]


def pull(client: ServerClient, folder: Path, project: str) -> PullSummary:
    """Write the project's files at their current versions into `folder`."""
    project_id = client.project_id(project)
    root = folder.resolve()
    root.mkdir(parents=True, exist_ok=True)
    summary = PullSummary()
    for entry in tree_listing(client, project_id):
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
