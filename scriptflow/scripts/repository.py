"""SQL for scripts and revisions."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Select, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from scriptflow.db.engine import driver_connection
from scriptflow.db.read_pool import DriverReadPool
from scriptflow.db.repository import Repository
from scriptflow.errors import ScriptflowError
from scriptflow.projects.models import ProjectMember
from scriptflow.scripts.models import Script, ScriptRevision


class ScriptRepository(Repository[Script]):
    model = Script

    async def member_role(self, script: Script, user_id: uuid.UUID) -> str | None:
        membership = await self.session.get(ProjectMember, (script.project_id, user_id))
        return membership.role if membership else None

    def visible_to(
        self, user_id: uuid.UUID, *, project_id: uuid.UUID | None, q: str | None
    ) -> Select[Script]:
        stmt = select(Script).join(
            ProjectMember,
            (ProjectMember.project_id == Script.project_id) & (ProjectMember.user_id == user_id),
        )
        # Generated drafts (version 0) are in no listing until their change set is accepted.
        stmt = stmt.where(Script.version > 0)
        if project_id is not None:
            stmt = stmt.where(Script.project_id == project_id)
        if q:
            escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            pattern = f"%{escaped}%"
            stmt = stmt.where(
                Script.title.ilike(pattern, escape="\\") | Script.path.ilike(pattern, escape="\\")
            )
        return stmt

    async def by_path(self, project_id: uuid.UUID, path: str) -> Script | None:
        stmt = select(Script).where(Script.project_id == project_id, Script.path == path)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def paths_like(self, project_id: uuid.UUID, prefix: str) -> set[str]:
        """The project's paths that start with `prefix` (taken names when numbering a new one)."""
        stmt = select(Script.path).where(
            Script.project_id == project_id, Script.path.startswith(prefix, autoescape=True)
        )
        return set((await self.session.execute(stmt)).scalars())

    async def tree(self, project_id: uuid.UUID, drafts: Collection[uuid.UUID] = ()) -> list[Script]:
        """Every file of the project, ordered by path; a generated draft (version 0, not yet
        accepted) only when named in ``drafts`` (its verification runs)."""
        published = Script.version > 0
        if drafts:
            published = published | Script.id.in_(list(drafts))
        stmt = (
            select(Script).where(Script.project_id == project_id, published).order_by(Script.path)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def tree_page(self, project_id: uuid.UUID, after: str | None, limit: int) -> list[Script]:
        """Up to ``limit`` published files whose path sorts after ``after``, by path (keyset:
        the path is unique per project, so a page never repeats or skips a file)."""
        stmt = select(Script).where(Script.project_id == project_id, Script.version > 0)
        if after is not None:
            stmt = stmt.where(Script.path > after)
        stmt = stmt.order_by(Script.path).limit(limit)
        return list((await self.session.execute(stmt)).scalars())

    async def flush_unique(self, error: ScriptflowError) -> None:
        """Flush; a unique-path race lost to a concurrent writer is `error`, not a 500."""
        try:
            await self.session.flush()
        except IntegrityError as exc:
            raise error from exc

    async def set_path(self, script_id: uuid.UUID, expected: int, path: str, kind: str) -> bool:
        """Move the file, only if it is still at version `expected`."""
        result = await self.session.execute(
            update(Script)
            .where(Script.id == script_id, Script.version == expected)
            .values(path=path, kind=kind)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def bump_version(self, script_id: uuid.UUID, expected: int, content: str) -> bool:
        """Set new content as the next version, only if the script is still at `expected`."""
        result = await self.session.execute(
            update(Script)
            .where(Script.id == script_id, Script.version == expected)
            .values(content=content, version=expected + 1)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def set_title(self, script_id: uuid.UUID, expected: int, title: str) -> bool:
        """Rename the script, only if it is still at version `expected`."""
        result = await self.session.execute(
            update(Script)
            .where(Script.id == script_id, Script.version == expected)
            .values(title=title)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def revisions(self, script_id: uuid.UUID) -> list[ScriptRevision]:
        stmt = (
            select(ScriptRevision)
            .where(ScriptRevision.script_id == script_id)
            .order_by(ScriptRevision.version.desc())
        )
        return list((await self.session.execute(stmt)).scalars())

    async def content_at(self, script_id: uuid.UUID, version: int) -> str | None:
        """The script's content at a version: its revision's, else the script's own if current."""
        content = (
            await self.session.execute(
                select(ScriptRevision.content).where(
                    ScriptRevision.script_id == script_id, ScriptRevision.version == version
                )
            )
        ).scalar_one_or_none()
        if content is None:
            content = (
                await self.session.execute(
                    select(Script.content).where(Script.id == script_id, Script.version == version)
                )
            ).scalar_one_or_none()
        return content

    async def revision_by_id(self, revision_id: uuid.UUID) -> ScriptRevision | None:
        return await self.session.get(ScriptRevision, revision_id)

    async def revision(self, script_id: uuid.UUID, version: int) -> ScriptRevision | None:
        stmt = select(ScriptRevision).where(
            ScriptRevision.script_id == script_id, ScriptRevision.version == version
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()


class ScriptReadRepository:
    """The hot read path: one visible script in one statement on the driver connection."""

    _SQLITE = (
        "SELECT s.id, s.project_id, s.title, s.path, s.kind, s.content, s.version, "
        "s.created_at, s.updated_at "
        "FROM scripts s "
        "JOIN project_members m ON m.project_id = s.project_id AND m.user_id = ? "
        "JOIN users u ON u.id = m.user_id AND u.is_active AND u.token_version = ? "
        "WHERE s.id = ?"
    )
    _POSTGRES = (
        "SELECT s.id, s.project_id, s.title, s.path, s.kind, s.content, s.version, "
        "s.created_at, s.updated_at "
        "FROM scripts s "
        "JOIN project_members m ON m.project_id = s.project_id AND m.user_id = $1 "
        "JOIN users u ON u.id = m.user_id AND u.is_active AND u.token_version = $2 "
        "WHERE s.id = $3"
    )

    def __init__(self, engine: AsyncEngine, pool: DriverReadPool | None = None) -> None:
        self.engine = engine
        self.pool = pool
        self.sqlite = engine.dialect.name == "sqlite"

    async def visible_script(
        self, user_id: uuid.UUID, token_version: int, script_id: uuid.UUID
    ) -> VisibleScript | None:
        """The script if the user is an active member of its project at this token version."""
        connection = self.pool.acquire() if self.pool else driver_connection(self.engine)
        async with connection as conn:
            if self.sqlite:
                params = (user_id.hex, token_version, script_id.hex)
                rows = await conn.execute_fetchall(self._SQLITE, params)
                if not rows:
                    return None
                r = rows[0]
                return VisibleScript(
                    id=uuid.UUID(r[0]),
                    project_id=uuid.UUID(r[1]),
                    title=r[2],
                    path=r[3],
                    kind=r[4],
                    content=r[5],
                    version=r[6],
                    created_at=_sqlite_datetime(r[7]),
                    updated_at=_sqlite_datetime(r[8]),
                )
            row = await conn.fetchrow(self._POSTGRES, user_id, token_version, script_id)
            if row is None:
                return None
            return VisibleScript(*row)


@dataclass(frozen=True)
class VisibleScript:
    id: uuid.UUID
    project_id: uuid.UUID
    title: str
    path: str
    kind: str
    content: str
    version: int
    created_at: datetime
    updated_at: datetime


def _sqlite_datetime(value: str) -> datetime:
    # Stored naive in UTC by UTCDateTime.
    return datetime.fromisoformat(value).replace(tzinfo=UTC)
