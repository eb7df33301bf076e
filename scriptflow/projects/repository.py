"""SQL for projects, memberships and environments."""

from __future__ import annotations

import uuid

from sqlalchemy import Select, func, select

from scriptflow.auth.models import User
from scriptflow.db.repository import Repository
from scriptflow.projects.models import Environment, Project, ProjectMember


class ProjectRepository(Repository[Project]):
    model = Project

    def for_member(self, user_id: uuid.UUID) -> Select[Project]:
        return select(Project).join(
            ProjectMember,
            (ProjectMember.project_id == Project.id) & (ProjectMember.user_id == user_id),
        )

    async def membership(self, project_id: uuid.UUID, user_id: uuid.UUID) -> ProjectMember | None:
        return await self.session.get(ProjectMember, (project_id, user_id))

    async def roles_of(
        self, user_id: uuid.UUID, project_ids: list[uuid.UUID]
    ) -> dict[uuid.UUID, str]:
        """The user's role in each of these projects."""
        if not project_ids:
            return {}
        stmt = select(ProjectMember.project_id, ProjectMember.role).where(
            ProjectMember.user_id == user_id, ProjectMember.project_id.in_(project_ids)
        )
        return {pid: role for pid, role in (await self.session.execute(stmt)).all()}

    async def member_project_ids(self, user_id: uuid.UUID) -> list[uuid.UUID]:
        stmt = select(ProjectMember.project_id).where(ProjectMember.user_id == user_id)
        return list((await self.session.execute(stmt)).scalars())

    async def members(self, project_id: uuid.UUID) -> list[tuple[ProjectMember, User]]:
        stmt = (
            select(ProjectMember, User)
            .join(User, User.id == ProjectMember.user_id)
            .where(ProjectMember.project_id == project_id)
            .order_by(ProjectMember.created_at, User.email)
        )
        return [(m, u) for m, u in (await self.session.execute(stmt)).all()]

    async def owner_count(self, project_id: uuid.UUID) -> int:
        stmt = select(func.count()).where(
            ProjectMember.project_id == project_id, ProjectMember.role == "owner"
        )
        return int((await self.session.execute(stmt)).scalar_one())

    async def environments(self, project_id: uuid.UUID) -> list[Environment]:
        stmt = (
            select(Environment)
            .where(Environment.project_id == project_id)
            .order_by(Environment.name)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def environment(self, project_id: uuid.UUID, env_id: uuid.UUID) -> Environment | None:
        env = await self.session.get(Environment, env_id)
        return env if env is not None and env.project_id == project_id else None

    async def environment_by_name(self, project_id: uuid.UUID, name: str) -> Environment | None:
        stmt = select(Environment).where(
            Environment.project_id == project_id, Environment.name == name
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()
