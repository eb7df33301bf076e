"""A project's tree of files: list it, read and write a file by path, import an archive.

The use cases the API, the notebooks and the CLI share. A file is a `Script` with a path;
writing one is the scripts service's create or revision, so every file keeps its history.
An import is one unit of work: the caller's transaction stores all of it or, on any error,
none of it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from scriptflow.errors import NotFound, ValidationFailed
from scriptflow.pagination import Page, clamp_limit
from scriptflow.projects.roles import Role
from scriptflow.projects.service import require_role
from scriptflow.scripts.archives import ArchiveContents, ArchiveLimits, SkippedFile, read_archive
from scriptflow.scripts.models import Script
from scriptflow.scripts.paths import normalise_path
from scriptflow.scripts.repository import ScriptRepository
from scriptflow.scripts.service import (
    DEFAULT_MAX_SCRIPT_BYTES,
    check_content_size,
    commit_revision,
    create_script,
)


class FileChange(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class TreeEntry:
    """One file of the tree, without its content."""

    id: uuid.UUID
    path: str
    kind: str
    version: int
    size_bytes: int
    sha256: str
    updated_at: datetime


@dataclass(frozen=True)
class SavedFile:
    script: Script
    change: FileChange


@dataclass
class ImportSummary:
    """What an import (or a push) did, path by path."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)


def content_sha256(content: str) -> str:
    """The hex SHA-256 of a file's UTF-8 bytes: what `push` compares a local file with."""
    return hashlib.sha256(content.encode()).hexdigest()


def _entries(scripts: list[Script]) -> list[TreeEntry]:
    entries = []
    for script in scripts:
        data = script.content.encode()
        entries.append(
            TreeEntry(
                id=script.id,
                path=script.path,
                kind=script.kind,
                version=script.version,
                size_bytes=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                updated_at=script.updated_at,
            )
        )
    return entries


async def project_files(
    session: AsyncSession, user_id: uuid.UUID, project_id: uuid.UUID
) -> list[Script]:
    """Every file of the project with its content and version, ordered by path."""
    await require_role(session, user_id, project_id, Role.VIEWER)
    return await ScriptRepository(session).tree(project_id)


async def list_tree(
    session: AsyncSession, user_id: uuid.UUID, project_id: uuid.UUID
) -> list[TreeEntry]:
    """The project's tree: every file's path, kind, version, size and hash, ordered by path."""
    scripts = await project_files(session, user_id, project_id)
    # Hashing a large tree is CPU work: off the event loop.
    return await asyncio.to_thread(_entries, scripts)


# The tree's cursor is the last path shown, URL-safe base64 without padding: any string of
# this shape is just a position (paths compare as strings), never an error or a query; the
# length fits a 255-character path of 4-byte characters.
TREE_CURSOR_PATTERN = r"^[A-Za-z0-9_-]{1,1400}$"


def encode_tree_cursor(path: str) -> str:
    """The cursor that continues after ``path``."""
    return base64.urlsafe_b64encode(path.encode()).decode().rstrip("=")


def decode_tree_cursor(cursor: str) -> str:
    """The path a cursor continues after; 422 for a string that is not of a cursor's shape."""
    try:
        if not re.fullmatch(TREE_CURSOR_PATTERN, cursor):
            raise ValueError(cursor)
        # A lone last character carries no whole byte; it is dropped, not an error.
        usable = cursor[:-1] if len(cursor) % 4 == 1 else cursor
        raw = base64.urlsafe_b64decode(usable + "=" * (-len(usable) % 4))
    except ValueError as exc:
        raise ValidationFailed.for_field(
            "cursor", "not a cursor", message="Invalid cursor"
        ) from exc
    # Ours decode to the path exactly; any other string of the shape is still a position:
    # bytes that are not UTF-8 read as U+FFFD, and a NUL (which no database compares) too.
    return raw.decode("utf-8", errors="replace").replace("\x00", "\ufffd")


async def list_tree_page(
    session: AsyncSession,
    user_id: uuid.UUID,
    project_id: uuid.UUID,
    *,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page[TreeEntry]:
    """One page of the tree, ordered by path, and the cursor of the next (None at the end)."""
    await require_role(session, user_id, project_id, Role.VIEWER)
    n = clamp_limit(limit)
    after = decode_tree_cursor(cursor) if cursor is not None else None
    scripts = await ScriptRepository(session).tree_page(project_id, after, n + 1)
    entries = await asyncio.to_thread(_entries, scripts[:n])
    more = len(scripts) > n
    return Page(entries, encode_tree_cursor(entries[-1].path) if more and entries else None)


async def read_file(
    session: AsyncSession, user_id: uuid.UUID, project_id: uuid.UUID, path: str
) -> Script:
    """The file at `path` in the project; a path nobody stored is not found."""
    await require_role(session, user_id, project_id, Role.VIEWER)
    script = await ScriptRepository(session).by_path(project_id, normalise_path(path))
    if script is None:
        raise NotFound("file", path)
    return script


async def save_file(
    session: AsyncSession,
    user_id: uuid.UUID,
    project_id: uuid.UUID,
    path: str,
    content: str,
    *,
    max_bytes: int = DEFAULT_MAX_SCRIPT_BYTES,
    source: str = "edit",
) -> SavedFile:
    """Create the file at `path`, or make `content` its next revision; same content is a no-op."""
    await require_role(session, user_id, project_id, Role.EDITOR)
    path = normalise_path(path)
    existing = await ScriptRepository(session).by_path(project_id, path)
    return await _save(
        session, user_id, project_id, path, content, existing, max_bytes=max_bytes, source=source
    )


async def _save(
    session: AsyncSession,
    user_id: uuid.UUID,
    project_id: uuid.UUID,
    path: str,
    content: str,
    existing: Script | None,
    *,
    max_bytes: int,
    source: str,
) -> SavedFile:
    check_content_size(content, max_bytes)
    if existing is None:
        created = await create_script(
            session,
            user_id,
            project_id=project_id,
            title=path,
            content=content,
            path=path,
            max_bytes=max_bytes,
            source="create" if source == "edit" else source,
        )
        return SavedFile(created, FileChange.CREATED)
    if existing.content == content:
        return SavedFile(existing, FileChange.UNCHANGED)
    await commit_revision(session, existing, content, source=source, applied_by=user_id)
    return SavedFile(existing, FileChange.UPDATED)


async def require_importer(
    session: AsyncSession, user_id: uuid.UUID, project_id: uuid.UUID
) -> None:
    """Only editors and above import; checked before an archive is even opened."""
    await require_role(session, user_id, project_id, Role.EDITOR)


async def read_import(data: bytes, limits: ArchiveLimits) -> ArchiveContents:
    """The archive's files, decompressed in a worker thread (never on the event loop)."""
    return await asyncio.to_thread(read_archive, data, limits)


async def store_import(
    session: AsyncSession,
    user_id: uuid.UUID,
    project_id: uuid.UUID,
    contents: ArchiveContents,
    *,
    max_bytes: int = DEFAULT_MAX_SCRIPT_BYTES,
) -> ImportSummary:
    """Store an archive's files into the tree in the caller's one transaction."""
    await require_role(session, user_id, project_id, Role.EDITOR)
    summary = ImportSummary(skipped=sorted(contents.skipped, key=lambda skipped: skipped.path))
    tree = {script.path: script for script in await ScriptRepository(session).tree(project_id)}
    lists = {
        FileChange.CREATED: summary.created,
        FileChange.UPDATED: summary.updated,
        FileChange.UNCHANGED: summary.unchanged,
    }
    for file in sorted(contents.files, key=lambda f: f.path):
        saved = await _save(
            session,
            user_id,
            project_id,
            file.path,
            file.content,
            tree.get(file.path),
            max_bytes=max_bytes,
            source="import",
        )
        lists[saved.change].append(saved.script.path)
    return summary


async def import_archive(
    session: AsyncSession,
    user_id: uuid.UUID,
    project_id: uuid.UUID,
    data: bytes,
    *,
    max_bytes: int = DEFAULT_MAX_SCRIPT_BYTES,
    limits: ArchiveLimits | None = None,
) -> ImportSummary:
    """Store a `.zip` or `.tar.gz` of a folder into the project's tree, all or nothing.

    The role is checked before the archive is opened; a hostile archive is a 422 and nothing
    is stored; importing the same archive again changes nothing. (The API reads the archive
    between two transactions instead, so no write lock is held while it decompresses.)
    """
    await require_importer(session, user_id, project_id)
    contents = await read_import(data, limits or ArchiveLimits(max_file_bytes=max_bytes))
    return await store_import(session, user_id, project_id, contents, max_bytes=max_bytes)
