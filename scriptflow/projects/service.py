"""Projects, members and environments, with role checks."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from scriptflow.auth.emails import normalise_email
from scriptflow.auth.models import User
from scriptflow.auth.repository import UserRepository
from scriptflow.errors import Conflict, Forbidden, NotFound, ValidationFailed
from scriptflow.pagination import Page, clamp_limit
from scriptflow.projects.models import Environment, Project, ProjectMember
from scriptflow.projects.repository import ProjectRepository
from scriptflow.projects.roles import Role
from scriptflow.projects.settings import ProjectSettings, read_settings


async def require_role(
    session: AsyncSession, user_id: uuid.UUID, project_id: uuid.UUID, minimum: Role
) -> Role:
    """The caller's role in the project; 404 for non-members, 403 when the role is too low."""
    membership = await ProjectRepository(session).membership(project_id, user_id)
    if membership is None:
        raise NotFound("project", project_id)
    role = Role(membership.role)
    if not role.at_least(minimum):
        raise Forbidden(
            f"This needs the {minimum.value} role or higher in the project",
            details={"required_role": minimum.value, "your_role": role.value},
        )
    return role


async def member_project_ids(session: AsyncSession, user_id: uuid.UUID) -> list[uuid.UUID]:
    return await ProjectRepository(session).member_project_ids(user_id)


async def create_project(session: AsyncSession, user_id: uuid.UUID, *, name: str) -> Project:
    project = Project(owner_id=user_id, name=name, settings={})
    session.add(project)
    await session.flush()
    session.add(ProjectMember(project_id=project.id, user_id=user_id, role=Role.OWNER.value))
    await session.flush()
    return project


async def list_projects(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page[Project]:
    repository = ProjectRepository(session)
    return await repository.paginate(
        repository.for_member(user_id), cursor=cursor, limit=clamp_limit(limit)
    )


async def list_projects_with_roles(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page[tuple[Project, Role]]:
    """The caller's projects, newest first, each with the caller's role in it."""
    page = await list_projects(session, user_id, limit=limit, cursor=cursor)
    roles = await ProjectRepository(session).roles_of(user_id, [p.id for p in page.items])
    return Page([(p, Role(roles[p.id])) for p in page.items], page.next_cursor)


async def get_project(
    session: AsyncSession, user_id: uuid.UUID, project_id: uuid.UUID
) -> tuple[Project, Role]:
    role = await require_role(session, user_id, project_id, Role.VIEWER)
    project = await ProjectRepository(session).get(project_id)
    if project is None:
        raise NotFound("project", project_id)
    return project, role


async def update_project(
    session: AsyncSession,
    user_id: uuid.UUID,
    project_id: uuid.UUID,
    *,
    name: str | None = None,
    settings: dict[str, Any] | None = None,
) -> Project:
    """Rename or change settings (owners); settings merge key by key."""
    await require_role(session, user_id, project_id, Role.OWNER)
    project, _ = await get_project(session, user_id, project_id)
    if name is not None:
        project.name = name
    if settings is not None:
        merged = {**read_settings(project.settings).model_dump(), **settings}
        try:
            project.settings = ProjectSettings.model_validate(merged).model_dump()
        except ValidationError as exc:
            fields = [
                {
                    "field": ".".join(["settings", *(str(p) for p in e["loc"])]),
                    "message": e["msg"],
                }
                for e in exc.errors()
            ]
            raise ValidationFailed("Invalid project settings", details={"fields": fields}) from exc
    await session.flush()
    return project


async def delete_project(session: AsyncSession, user_id: uuid.UUID, project_id: uuid.UUID) -> None:
    await require_role(session, user_id, project_id, Role.OWNER)
    project = await ProjectRepository(session).get(project_id)
    if project is not None:
        await ProjectRepository(session).delete(project)


async def list_members(
    session: AsyncSession, user_id: uuid.UUID, project_id: uuid.UUID
) -> list[tuple[ProjectMember, User]]:
    await require_role(session, user_id, project_id, Role.VIEWER)
    return await ProjectRepository(session).members(project_id)


async def add_member(
    session: AsyncSession, user_id: uuid.UUID, project_id: uuid.UUID, *, email: str, role: Role
) -> tuple[ProjectMember, User]:
    """Add a registered user, or change the role of an existing member (owners only)."""
    await require_role(session, user_id, project_id, Role.OWNER)
    repo = ProjectRepository(session)
    target = await UserRepository(session).by_email(normalise_email(email))
    if target is None:
        # Not 404: the project in the URL exists; what is missing is the account the body
        # names, and only registered users can be members.
        raise Conflict(
            "No account is registered with this email; ask them to register first",
            details={"field": "email"},
            code="USER_NOT_REGISTERED",
        )
    membership = await repo.membership(project_id, target.id)
    if membership is None:
        membership = ProjectMember(project_id=project_id, user_id=target.id, role=role.value)
        session.add(membership)
    else:
        if membership.role == Role.OWNER and role != Role.OWNER:
            await _keep_an_owner(repo, project_id)
        membership.role = role.value
    await session.flush()
    return membership, target


async def remove_member(
    session: AsyncSession, user_id: uuid.UUID, project_id: uuid.UUID, member_user_id: uuid.UUID
) -> None:
    await require_role(session, user_id, project_id, Role.OWNER)
    repo = ProjectRepository(session)
    membership = await repo.membership(project_id, member_user_id)
    if membership is None:
        raise NotFound("member", member_user_id)
    if membership.role == Role.OWNER:
        await _keep_an_owner(repo, project_id)
    await repo.delete(membership)


async def _keep_an_owner(repo: ProjectRepository, project_id: uuid.UUID) -> None:
    if await repo.owner_count(project_id) <= 1:
        raise Conflict("A project must keep at least one owner")


def validate_base_url(base_url: str) -> str:
    try:
        parts = urlsplit(base_url)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
        _ = parts.port  # raises for a port out of range
    except ValueError:
        valid = False
    if not valid:
        raise ValidationFailed.for_field(
            "base_url", "absolute http(s) URL", message="base_url must be an absolute http(s) URL"
        )
    return base_url.rstrip("/")


async def list_environments(
    session: AsyncSession, user_id: uuid.UUID, project_id: uuid.UUID
) -> list[Environment]:
    await require_role(session, user_id, project_id, Role.VIEWER)
    return await ProjectRepository(session).environments(project_id)


async def create_environment(
    session: AsyncSession, user_id: uuid.UUID, project_id: uuid.UUID, *, name: str, base_url: str
) -> Environment:
    await require_role(session, user_id, project_id, Role.OWNER)
    env = Environment(project_id=project_id, name=name, base_url=validate_base_url(base_url))
    await _save_environment(session, env)
    return env


async def update_environment(
    session: AsyncSession,
    user_id: uuid.UUID,
    project_id: uuid.UUID,
    env_id: uuid.UUID,
    *,
    name: str | None = None,
    base_url: str | None = None,
) -> Environment:
    await require_role(session, user_id, project_id, Role.OWNER)
    env = await ProjectRepository(session).environment(project_id, env_id)
    if env is None:
        raise NotFound("environment", env_id)
    if name is not None:
        env.name = name
    if base_url is not None:
        env.base_url = validate_base_url(base_url)
    await _save_environment(session, env)
    return env


async def delete_environment(
    session: AsyncSession, user_id: uuid.UUID, project_id: uuid.UUID, env_id: uuid.UUID
) -> None:
    await require_role(session, user_id, project_id, Role.OWNER)
    env = await ProjectRepository(session).environment(project_id, env_id)
    if env is None:
        raise NotFound("environment", env_id)
    await ProjectRepository(session).delete(env)


async def _save_environment(session: AsyncSession, env: Environment) -> None:
    try:
        async with session.begin_nested():
            session.add(env)
            await session.flush()
    except IntegrityError as exc:
        raise Conflict(
            f"An environment named {env.name!r} already exists in this project",
            details={"field": "name"},
        ) from exc
