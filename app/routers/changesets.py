"""Enhance a script into a change set (step 2) and accept or reject it (step 3)."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Request, Response
from fastapi.responses import PlainTextResponse

from app.deps import (
    CurrentUser,
    SessionDep,
    SettingsDep,
    UserOutsideTransaction,
    check_ai_rate_limit,
)
from app.pagination import link_next
from app.schemas import Cursor, Limit
from app.schemas.changesets import (
    AcceptIn,
    AcceptOut,
    ChangeSetOut,
    CommentIn,
    CommentOut,
    EnhanceIn,
    RejectIn,
    RejectOut,
)
from scriptflow.changesets import service as changesets
from scriptflow.changesets.export import changeset_patch
from scriptflow.enhance import service
from scriptflow.enhance.proposal import LocatorHint
from scriptflow.wiring import seen_locators

router = APIRouter(prefix="/scripts", tags=["changesets"])


@router.post("/{script_id}/enhance", response_model=ChangeSetOut)
async def enhance_script(
    script_id: uuid.UUID,
    body: EnhanceIn,
    request: Request,
    user: UserOutsideTransaction,
    settings: SettingsDep,
) -> ChangeSetOut:
    # No request-wide session here: the provider may be a slow network call, and the service
    # opens its own short transactions around it.
    await check_ai_rate_limit(request, user.id)
    outcome = await service.enhance_script(
        request.app.state.sessionmaker,
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
        seen_locators=seen_locators,
    )
    # 200 either way, as in the seed: a stored change set, or "no_changes" (nothing stored).
    return ChangeSetOut.model_validate(outcome)


@router.get("/{script_id}/changesets", response_model=list[ChangeSetOut])
async def list_changesets(
    script_id: uuid.UUID,
    request: Request,
    response: Response,
    user: CurrentUser,
    session: SessionDep,
    status: Literal["proposed", "accepted", "rejected", "generating", "failed"] | None = None,
    limit: Limit = None,
    cursor: Cursor = None,
) -> list[ChangeSetOut]:
    page = await changesets.list_changesets(
        session, user.id, script_id, status=status, limit=limit, cursor=cursor
    )
    link_next(request, response, page.next_cursor)
    return [ChangeSetOut.model_validate(changeset) for changeset in page.items]


@router.get("/{script_id}/changesets/{changeset_id}", response_model=ChangeSetOut)
async def get_changeset(
    script_id: uuid.UUID, changeset_id: uuid.UUID, user: CurrentUser, session: SessionDep
) -> ChangeSetOut:
    changeset = await changesets.get_changeset(session, user.id, script_id, changeset_id)
    return ChangeSetOut.model_validate(changeset)


@router.get(
    "/{script_id}/changesets/{changeset_id}/patch",
    response_model=None,
    # Errors stay JSON in our error shape; only the patch itself is text.
    responses={
        200: {
            "description": "The patch, as `git format-patch` writes it",
            "content": {"text/x-patch": {"schema": {"type": "string"}}},
        }
    },
)
async def get_changeset_patch(
    script_id: uuid.UUID, changeset_id: uuid.UUID, user: CurrentUser, session: SessionDep
) -> PlainTextResponse:
    """An accepted change set as a git patch: `git apply` it at the repository root."""
    patch = await changeset_patch(session, user.id, script_id, changeset_id)
    return PlainTextResponse(patch, media_type="text/x-patch")


@router.post("/{script_id}/changesets/{changeset_id}/accept", response_model=AcceptOut)
async def accept_changeset(
    script_id: uuid.UUID,
    changeset_id: uuid.UUID,
    user: CurrentUser,
    session: SessionDep,
    body: Annotated[AcceptIn | None, Body()] = None,
) -> AcceptOut:
    revision = await changesets.accept_changeset(
        session,
        user.id,
        script_id,
        changeset_id,
        acknowledge_risk=body.acknowledge_risk if body else False,
        hunks=body.hunks if body else None,
        expected_version=body.expected_version if body else None,
    )
    return AcceptOut(revision_id=revision.id, version=revision.version)


@router.post("/{script_id}/changesets/{changeset_id}/reject", response_model=RejectOut)
async def reject_changeset(
    script_id: uuid.UUID,
    changeset_id: uuid.UUID,
    user: CurrentUser,
    session: SessionDep,
    body: RejectIn | None = None,
) -> RejectOut:
    """Reject a proposed change set; a body records why (the seed's bodiless reject still works)."""
    await changesets.reject_changeset(
        session,
        user.id,
        script_id,
        changeset_id,
        reason=body.reason if body else None,
        expected_version=body.expected_version if body else None,
    )
    return RejectOut()


@router.get("/{script_id}/changesets/{changeset_id}/comments", response_model=list[CommentOut])
async def list_changeset_comments(
    script_id: uuid.UUID, changeset_id: uuid.UUID, user: CurrentUser, session: SessionDep
) -> list[CommentOut]:
    """Reviewers' comments on a change set and its review hunks, oldest first."""
    comments = await changesets.list_comments(session, user.id, script_id, changeset_id)
    return [CommentOut.model_validate(comment) for comment in comments]


@router.post(
    "/{script_id}/changesets/{changeset_id}/comments",
    response_model=CommentOut,
    status_code=201,
)
async def add_changeset_comment(
    script_id: uuid.UUID,
    changeset_id: uuid.UUID,
    body: CommentIn,
    user: CurrentUser,
    session: SessionDep,
) -> CommentOut:
    """Comment on one review hunk (`hunk`, numbered from 0) or on the whole change set."""
    comment = await changesets.add_comment(
        session, user.id, script_id, changeset_id, body=body.body, hunk=body.hunk
    )
    return CommentOut.model_validate(comment)
