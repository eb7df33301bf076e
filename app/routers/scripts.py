"""Scripts CRUD (the seed's paths) and revision history."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Request, Response, status

from app.deps import CurrentCaller, CurrentUser, EngineDep, SessionDep, SettingsDep
from app.pagination import link_next
from app.schemas import MAX_DB_INT, NO_NUL_PATTERN, Cursor, Limit
from app.schemas.scripts import RevertIn, RevisionOut, ScriptIn, ScriptOut, ScriptPatch
from scriptflow.auth.service import user_for_claims
from scriptflow.db.engine import transaction
from scriptflow.errors import NotFound, ValidationFailed
from scriptflow.scripts import service

router = APIRouter(prefix="/scripts", tags=["scripts"])

VersionPath = Annotated[int, Path(ge=1, le=MAX_DB_INT)]
IfMatch = Annotated[
    str | None,
    Header(pattern=r'^\s*(W/)?"?[0-9]{1,10}"?\s*$', description='the script version, e.g. "3"'),
]


def _etag(response: Response, version: int) -> None:
    response.headers["ETag"] = f'"{version}"'


def _version_from_if_match(if_match: str | None) -> int | None:
    if if_match is None:
        return None
    raw = if_match.strip().removeprefix("W/").strip('"')
    # Any number is a well-formed tag; one the script is not at is stale (409), not invalid.
    if not raw.isdigit():
        raise ValidationFailed.for_field(
            "If-Match",
            "not a version",
            message='If-Match must carry the script version as its entity tag, e.g. "3"',
        )
    return int(raw)


@router.get("", response_model=list[ScriptOut])
async def list_scripts(
    request: Request,
    response: Response,
    user: CurrentUser,
    session: SessionDep,
    project_id: uuid.UUID | None = None,
    q: Annotated[str | None, Query(max_length=200, pattern=NO_NUL_PATTERN)] = None,
    limit: Limit = None,
    cursor: Cursor = None,
) -> list[ScriptOut]:
    page = await service.list_scripts(
        session, user.id, project_id=project_id, q=q, limit=limit, cursor=cursor
    )
    link_next(request, response, page.next_cursor)
    return [ScriptOut.model_validate(s) for s in page.items]


@router.post("", response_model=ScriptOut, status_code=status.HTTP_201_CREATED)
async def create_script(
    body: ScriptIn,
    response: Response,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
) -> ScriptOut:
    script = await service.create_script(
        session,
        user.id,
        project_id=body.project_id,
        title=body.title,
        content=body.content,
        path=body.path,
        max_bytes=settings.max_script_bytes,
    )
    _etag(response, script.version)
    return ScriptOut.model_validate(script)


@router.get("/{script_id}", response_model=ScriptOut)
async def get_script(
    script_id: uuid.UUID,
    request: Request,
    response: Response,
    caller: CurrentCaller,
    engine: EngineDep,
) -> ScriptOut:
    try:
        script = await service.read_script(engine, caller.user_id, caller.token_version, script_id)
    except NotFound:
        # The one statement also fails for a revoked token; that caller hears 401, not 404.
        async with transaction(request.app.state.sessionmaker, write=False) as session:
            await user_for_claims(session, caller.claims)
        raise
    _etag(response, script.version)
    return ScriptOut.model_validate(script)


@router.put("/{script_id}", response_model=ScriptOut)
async def update_script(
    script_id: uuid.UUID,
    body: ScriptPatch,
    response: Response,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    if_match: IfMatch = None,
) -> ScriptOut:
    expected = body.expected_version or _version_from_if_match(if_match)
    script = await service.update_script(
        session,
        user.id,
        script_id,
        title=body.title,
        content=body.content,
        path=body.path,
        expected_version=expected,
        max_bytes=settings.max_script_bytes,
    )
    _etag(response, script.version)
    return ScriptOut.model_validate(script)


@router.delete("/{script_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_script(script_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> Response:
    await service.delete_script(session, user.id, script_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{script_id}/revisions", response_model=list[RevisionOut])
async def list_revisions(
    script_id: uuid.UUID, user: CurrentUser, session: SessionDep
) -> list[RevisionOut]:
    revisions = await service.list_revisions(session, user.id, script_id)
    return [RevisionOut.model_validate(r) for r in revisions]


@router.get("/{script_id}/revisions/{version}", response_model=RevisionOut)
async def get_revision(
    script_id: uuid.UUID, version: VersionPath, user: CurrentUser, session: SessionDep
) -> RevisionOut:
    revision = await service.get_revision(session, user.id, script_id, version)
    return RevisionOut.model_validate(revision)


@router.post("/{script_id}/revert", response_model=RevisionOut)
async def revert_script(
    script_id: uuid.UUID, body: RevertIn, user: CurrentUser, session: SessionDep
) -> RevisionOut:
    revision = await service.revert_script(session, user.id, script_id, version=body.version)
    return RevisionOut.model_validate(revision)
