"""Enhance a script into a change set (step 2) and accept or reject it (step 3)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Request, Response
from fastapi import status as http_status
from fastapi.responses import JSONResponse

from app.deps import CurrentUser, SessionDep, SettingsDep, limiter
from app.pagination import link_next
from app.schemas.changesets import (
    AcceptIn,
    AcceptOut,
    ChangeSetOut,
    EnhanceIn,
    RejectIn,
    RejectOut,
)
from scriptflow.enhance import service
from scriptflow.enhance.proposal import LocatorHint

router = APIRouter(prefix="/scripts", tags=["changesets"])


@router.post(
    "/{script_id}/enhance",
    response_model=ChangeSetOut,
    status_code=http_status.HTTP_201_CREATED,
    responses={200: {"model": ChangeSetOut, "description": "Nothing to improve (no_changes)"}},
)
async def enhance_script(
    script_id: uuid.UUID,
    body: EnhanceIn,
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
) -> ChangeSetOut | JSONResponse:
    limiter(request, "enhance").check(f"user:{user.id}")
    outcome = await service.propose_changeset(
        session,
        user.id,
        script_id,
        service.EnhanceRequest(
            prompt=body.prompt,
            provider=body.provider,
            model=body.model,
            temperature=body.temperature,
            locator_hints={
                selector: LocatorHint(**hint.model_dump())
                for selector, hint in body.locator_hints.items()
            },
        ),
        providers=service.providers_from_settings(settings),
        allowed_models=settings.openai_models,
        max_script_bytes=settings.max_script_bytes,
    )
    out = ChangeSetOut.model_validate(outcome)
    if isinstance(outcome, service.NoChanges):
        return JSONResponse(out.model_dump(mode="json"), status_code=http_status.HTTP_200_OK)
    return out


@router.get("/{script_id}/changesets", response_model=list[ChangeSetOut])
async def list_changesets(
    script_id: uuid.UUID,
    request: Request,
    response: Response,
    user: CurrentUser,
    session: SessionDep,
    status: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> list[ChangeSetOut]:
    page = await service.list_changesets(
        session, user.id, script_id, status=status, limit=limit, cursor=cursor
    )
    link_next(request, response, page.next_cursor)
    return [ChangeSetOut.model_validate(changeset) for changeset in page.items]


@router.get("/{script_id}/changesets/{changeset_id}", response_model=ChangeSetOut)
async def get_changeset(
    script_id: uuid.UUID, changeset_id: uuid.UUID, user: CurrentUser, session: SessionDep
) -> ChangeSetOut:
    changeset = await service.get_changeset(session, user.id, script_id, changeset_id)
    return ChangeSetOut.model_validate(changeset)


@router.post("/{script_id}/changesets/{changeset_id}/accept", response_model=AcceptOut)
async def accept_changeset(
    script_id: uuid.UUID,
    changeset_id: uuid.UUID,
    user: CurrentUser,
    session: SessionDep,
    body: Annotated[AcceptIn | None, Body()] = None,
) -> AcceptOut:
    revision = await service.accept_changeset(
        session,
        user.id,
        script_id,
        changeset_id,
        acknowledge_risk=body.acknowledge_risk if body else False,
    )
    return AcceptOut(revision_id=revision.id, version=revision.version)


@router.post("/{script_id}/changesets/{changeset_id}/reject", response_model=RejectOut)
async def reject_changeset(
    script_id: uuid.UUID,
    changeset_id: uuid.UUID,
    user: CurrentUser,
    session: SessionDep,
    body: Annotated[RejectIn | None, Body()] = None,
) -> RejectOut:
    await service.reject_changeset(
        session, user.id, script_id, changeset_id, reason=body.reason if body else None
    )
    return RejectOut()
