"""SQL for scripts and revisions."""

from __future__ import annotations

import uuid

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from scriptflow.projects.models import ProjectMember
from scriptflow.scripts.models import Script, ScriptRevision


class ScriptRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, script_id: uuid.UUID) -> Script | None:
        return await self.session.get(Script, script_id)

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
        if project_id is not None:
            stmt = stmt.where(Script.project_id == project_id)
        if q:
            escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            stmt = stmt.where(Script.title.ilike(f"%{escaped}%", escape="\\"))
        return stmt

    async def revisions(self, script_id: uuid.UUID) -> list[ScriptRevision]:
        stmt = (
            select(ScriptRevision)
            .where(ScriptRevision.script_id == script_id)
            .order_by(ScriptRevision.version.desc())
        )
        return list((await self.session.execute(stmt)).scalars())

    async def revision(self, script_id: uuid.UUID, version: int) -> ScriptRevision | None:
        stmt = select(ScriptRevision).where(
            ScriptRevision.script_id == script_id, ScriptRevision.version == version
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()
