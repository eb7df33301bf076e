"""A project's files (scripts) and their revision history; every content change is a revision."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from scriptflow import events
from scriptflow.db.read_pool import DriverReadPool
from scriptflow.errors import Conflict, NotFound, PayloadTooLarge, ValidationFailed
from scriptflow.pagination import Page, clamp_limit
from scriptflow.projects.roles import Role
from scriptflow.projects.service import require_role
from scriptflow.scripts.diffing import unified_diff_async
from scriptflow.scripts.events import ScriptRevised
from scriptflow.scripts.models import Script, ScriptRevision
from scriptflow.scripts.paths import (
    FileKind,
    is_python,
    kind_for_path,
    normalise_path,
    path_for_title,
    slug_for_title,
)
from scriptflow.scripts.repository import ScriptReadRepository, ScriptRepository, VisibleScript

DEFAULT_MAX_SCRIPT_BYTES = 1024 * 1024


def script_filename(script: Script) -> str:
    """The name diffs carry: the file's path in the tree, so a diff applies at the root."""
    return script.path


class NotAPythonFile(ValidationFailed):
    code = "NOT_A_PYTHON_FILE"


def require_python(script: Script | VisibleScript, action: str) -> None:
    """Enhance and runs work on Python files; a data file is a clear 422, not a failed run."""
    if not is_python(script.kind):
        raise NotAPythonFile.for_field(
            "script_id",
            f"is a {script.kind} file",
            message=f"{script.path} is a {script.kind} file; only Python files can be {action}",
            path=script.path,
            kind=script.kind,
        )


def _path_taken(path: str) -> Conflict:
    return Conflict(
        f"The project already has a file at {path}",
        details={"fields": [{"field": "path", "message": "already exists"}], "path": path},
        code="PATH_TAKEN",
    )


def check_content_size(content: str, max_bytes: int) -> None:
    size = len(content.encode())
    if size > max_bytes:
        raise PayloadTooLarge(
            f"Script content is {size} bytes; the limit is {max_bytes}",
            details={"size_bytes": size, "max_bytes": max_bytes},
        )


async def get_script(
    session: AsyncSession, user_id: uuid.UUID, script_id: uuid.UUID, minimum: Role = Role.VIEWER
) -> Script:
    """A script the caller may see with at least `minimum`; others' scripts are not found."""
    repo = ScriptRepository(session)
    script = await repo.get(script_id)
    if script is None or await repo.member_role(script, user_id) is None:
        raise NotFound("script", script_id)
    await require_role(session, user_id, script.project_id, minimum)
    return script


async def read_script(
    engine: AsyncEngine,
    user_id: uuid.UUID,
    token_version: int,
    script_id: uuid.UUID,
    pool: DriverReadPool | None = None,
) -> VisibleScript:
    """The hot read path of `get_script`: one statement, no unit of work.

    The statement also checks the caller's token was not revoked (`token_version`), so the
    read needs no user lookup of its own.
    """
    repository = ScriptReadRepository(engine, pool)
    script = await repository.visible_script(user_id, token_version, script_id)
    if script is None:
        raise NotFound("script", script_id)
    return script


async def list_scripts(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    project_id: uuid.UUID | None = None,
    q: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page[Script]:
    n = clamp_limit(limit)
    repository = ScriptRepository(session)
    stmt = repository.visible_to(user_id, project_id=project_id, q=q)
    return await repository.paginate(stmt, cursor=cursor, limit=n)


async def create_script(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    project_id: uuid.UUID,
    title: str,
    content: str,
    path: str | None = None,
    max_bytes: int = DEFAULT_MAX_SCRIPT_BYTES,
    source: str = "create",
) -> Script:
    """A new file in the project's tree; without a path, a test path made from the title."""
    await require_role(session, user_id, project_id, Role.EDITOR)
    check_content_size(content, max_bytes)
    repo = ScriptRepository(session)
    if path is None:
        slug = slug_for_title(title)
        path = path_for_title(title, await repo.paths_like(project_id, f"tests/test_{slug}"))
    else:
        path = normalise_path(path)
        if await repo.by_path(project_id, path) is not None:
            raise _path_taken(path)
    kind = kind_for_path(path) or FileKind.TEST
    script = Script(
        project_id=project_id,
        title=title,
        path=path,
        kind=kind,
        content=content,
        version=1,
        created_by=user_id,
    )
    session.add(script)
    await repo.flush_unique(_path_taken(path))
    session.add(
        ScriptRevision(
            script_id=script.id,
            version=1,
            diff=await unified_diff_async("", content, script_filename(script)),
            content=content,
            source=source,
            applied_by=user_id,
        )
    )
    await session.flush()
    return script


async def commit_revision(
    session: AsyncSession,
    script: Script,
    new_content: str,
    *,
    source: str,
    applied_by: uuid.UUID | None,
    changeset_id: uuid.UUID | None = None,
    message: str | None = None,
) -> ScriptRevision:
    """Make `new_content` the script's next version, fenced on the version it was read at."""
    base_version = script.version
    diff = await unified_diff_async(script.content, new_content, script_filename(script))
    bumped = await ScriptRepository(session).bump_version(script.id, base_version, new_content)
    if not bumped:
        raise Conflict(
            "The script changed while this edit was being saved; reload and try again",
            details={"expected_version": base_version},
        )
    revision = ScriptRevision(
        script_id=script.id,
        version=base_version + 1,
        diff=diff,
        content=new_content,
        source=source,
        applied_by=applied_by,
        changeset_id=changeset_id,
        message=message,
    )
    session.add(revision)
    await session.flush()
    await ScriptRepository(session).refresh(script)
    events.record(session, ScriptRevised(script.project_id, script.id, revision.version, source))
    return revision


async def update_script(
    session: AsyncSession,
    user_id: uuid.UUID,
    script_id: uuid.UUID,
    *,
    title: str | None = None,
    content: str | None = None,
    path: str | None = None,
    expected_version: int | None = None,
    max_bytes: int = DEFAULT_MAX_SCRIPT_BYTES,
) -> Script:
    """Partial update; a content change writes a revision; a stale expected_version is 409.

    A new path moves the file (its kind follows the path); history stays with the file.
    """
    script = await get_script(session, user_id, script_id, Role.EDITOR)
    if expected_version is not None and expected_version != script.version:
        raise Conflict(
            f"The script is at version {script.version}, not {expected_version}",
            details={"current_version": script.version, "expected_version": expected_version},
        )
    if title is not None and title != script.title:
        # Fenced like a content change: a stale version must not rename the script either.
        if not await ScriptRepository(session).set_title(script.id, script.version, title):
            raise Conflict(
                "The script changed while this edit was being saved; reload and try again",
                details={"expected_version": script.version},
            )
        await ScriptRepository(session).refresh(script)
    if path is not None:
        await _move(session, script, normalise_path(path))
    if content is not None and content != script.content:
        check_content_size(content, max_bytes)
        await commit_revision(session, script, content, source="edit", applied_by=user_id)
    return script


async def _move(session: AsyncSession, script: Script, path: str) -> None:
    if path == script.path:
        return
    repo = ScriptRepository(session)
    if await repo.by_path(script.project_id, path) is not None:
        raise _path_taken(path)
    kind = kind_for_path(path) or FileKind.TEST
    if not await repo.set_path(script.id, script.version, path, kind):
        raise Conflict(
            "The script changed while this edit was being saved; reload and try again",
            details={"expected_version": script.version},
        )
    await repo.flush_unique(_path_taken(path))
    await repo.refresh(script)


async def delete_script(session: AsyncSession, user_id: uuid.UUID, script_id: uuid.UUID) -> None:
    script = await get_script(session, user_id, script_id, Role.EDITOR)
    await ScriptRepository(session).delete(script)
    await session.flush()


async def list_revisions(
    session: AsyncSession, user_id: uuid.UUID, script_id: uuid.UUID
) -> list[ScriptRevision]:
    await get_script(session, user_id, script_id)
    return await ScriptRepository(session).revisions(script_id)


async def get_revision(
    session: AsyncSession, user_id: uuid.UUID, script_id: uuid.UUID, version: int
) -> ScriptRevision:
    await get_script(session, user_id, script_id)
    revision = await ScriptRepository(session).revision(script_id, version)
    if revision is None:
        raise NotFound("revision", version)
    return revision


async def revert_script(
    session: AsyncSession, user_id: uuid.UUID, script_id: uuid.UUID, *, version: int
) -> ScriptRevision:
    """Bring back an earlier version's content as a new revision (history is never rewritten).

    Reverting to the content the script already has changes nothing: the answer is the
    current revision, and no identical revision piles up.
    """
    script = await get_script(session, user_id, script_id, Role.EDITOR)
    repo = ScriptRepository(session)
    target = await repo.revision(script_id, version)
    if target is None:
        raise NotFound("revision", version)
    if target.content == script.content:
        current = await repo.revision(script_id, script.version)
        if current is None:
            raise NotFound("revision", script.version)
        return current
    return await commit_revision(
        session,
        script,
        target.content,
        source="revert",
        applied_by=user_id,
        message=f"Revert to version {version}",
    )
