"""Projects, members and environments."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response, status

from app.deps import CurrentUser, SessionDep
from app.pagination import link_next
from app.schemas import Cursor, Limit
from app.schemas.projects import (
    EnvironmentIn,
    EnvironmentOut,
    EnvironmentPatch,
    MemberIn,
    MemberOut,
    ProjectIn,
    ProjectOut,
    ProjectPatch,
)
from scriptflow.projects import service
from scriptflow.projects.roles import Role

router = APIRouter(prefix="/projects", tags=["projects"])


@router.get("", response_model=list[ProjectOut])
async def list_projects(
    request: Request,
    response: Response,
    user: CurrentUser,
    session: SessionDep,
    limit: Limit = None,
    cursor: Cursor = None,
) -> list[ProjectOut]:
    page = await service.list_projects_with_roles(session, user.id, limit=limit, cursor=cursor)
    link_next(request, response, page.next_cursor)
    return [ProjectOut.of(project, role) for project, role in page.items]


@router.post("", response_model=ProjectOut, status_code=status.HTTP_201_CREATED)
async def create_project(body: ProjectIn, user: CurrentUser, session: SessionDep) -> ProjectOut:
    project = await service.create_project(session, user.id, name=body.name)
    return ProjectOut.of(project, Role.OWNER)


@router.get("/{project_id}", response_model=ProjectOut)
async def get_project(project_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> ProjectOut:
    project, role = await service.get_project(session, user.id, project_id)
    return ProjectOut.of(project, role)


@router.patch("/{project_id}", response_model=ProjectOut)
async def update_project(
    project_id: uuid.UUID, body: ProjectPatch, user: CurrentUser, session: SessionDep
) -> ProjectOut:
    project = await service.update_project(
        session,
        user.id,
        project_id,
        name=body.name,
        settings=body.settings.changes() if body.settings is not None else None,
    )
    return ProjectOut.of(project, Role.OWNER)


@router.delete("/{project_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_project(project_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> Response:
    await service.delete_project(session, user.id, project_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{project_id}/members", response_model=list[MemberOut])
async def list_members(
    project_id: uuid.UUID, user: CurrentUser, session: SessionDep
) -> list[MemberOut]:
    rows = await service.list_members(session, user.id, project_id)
    return [MemberOut.of(member, member_user) for member, member_user in rows]


@router.post("/{project_id}/members", response_model=MemberOut, status_code=status.HTTP_201_CREATED)
async def add_member(
    project_id: uuid.UUID, body: MemberIn, user: CurrentUser, session: SessionDep
) -> MemberOut:
    member, added = await service.add_member(
        session, user.id, project_id, email=body.email, role=body.role
    )
    return MemberOut.of(member, added)


@router.delete("/{project_id}/members/{member_user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_member(
    project_id: uuid.UUID, member_user_id: uuid.UUID, user: CurrentUser, session: SessionDep
) -> Response:
    await service.remove_member(session, user.id, project_id, member_user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{project_id}/environments", response_model=list[EnvironmentOut])
async def list_environments(
    project_id: uuid.UUID, user: CurrentUser, session: SessionDep
) -> list[EnvironmentOut]:
    envs = await service.list_environments(session, user.id, project_id)
    return [EnvironmentOut.model_validate(e) for e in envs]


@router.post(
    "/{project_id}/environments", response_model=EnvironmentOut, status_code=status.HTTP_201_CREATED
)
async def create_environment(
    project_id: uuid.UUID, body: EnvironmentIn, user: CurrentUser, session: SessionDep
) -> EnvironmentOut:
    env = await service.create_environment(
        session, user.id, project_id, name=body.name, base_url=body.base_url
    )
    return EnvironmentOut.model_validate(env)


@router.patch("/{project_id}/environments/{env_id}", response_model=EnvironmentOut)
async def update_environment(
    project_id: uuid.UUID,
    env_id: uuid.UUID,
    body: EnvironmentPatch,
    user: CurrentUser,
    session: SessionDep,
) -> EnvironmentOut:
    env = await service.update_environment(
        session, user.id, project_id, env_id, name=body.name, base_url=body.base_url
    )
    return EnvironmentOut.model_validate(env)


@router.delete("/{project_id}/environments/{env_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_environment(
    project_id: uuid.UUID, env_id: uuid.UUID, user: CurrentUser, session: SessionDep
) -> Response:
    await service.delete_environment(session, user.id, project_id, env_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
