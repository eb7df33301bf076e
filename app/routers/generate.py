"""Generate a test from a live page or a description (step 1 of the workflow)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from app.deps import SettingsDep, UserOutsideTransaction, check_ai_rate_limit
from app.schemas.changesets import ChangeSetOut
from app.schemas.generate import PAGE_PATH_PATTERN, GenerateIn, OutlineOut
from scriptflow.config import Settings
from scriptflow.generate import service
from scriptflow.generate.jobs import GenerationJobs
from scriptflow.generate.live import PageExplorer, SandboxedExplorer
from scriptflow.generate.wiring import planner_from_settings

router = APIRouter(prefix="/projects", tags=["generate"])


def _explorer(request: Request, settings: Settings) -> PageExplorer:
    """The sandboxed explorer, unless the app was given another edge (tests, benchmarks)."""
    explorer: PageExplorer | None = getattr(request.app.state, "page_explorer", None)
    return explorer or SandboxedExplorer(settings)


def _jobs(request: Request) -> GenerationJobs:
    jobs: GenerationJobs | None = getattr(request.app.state, "generation_jobs", None)
    if jobs is None:
        jobs = request.app.state.generation_jobs = GenerationJobs()
    return jobs


@router.post(
    "/{project_id}/generate",
    response_model=ChangeSetOut,
    status_code=status.HTTP_202_ACCEPTED,
)
async def generate(
    project_id: uuid.UUID,
    body: GenerateIn,
    request: Request,
    response: Response,
    user: UserOutsideTransaction,
    settings: SettingsDep,
) -> ChangeSetOut:
    """Generate a test module live; 202 with the change set, `generating` until its
    verification runs end (`proposed` when all pass, `failed` otherwise)."""
    # Shared with enhance: every generation is AI-priced work on the same per-user key.
    await check_ai_rate_limit(request, user.id)
    sessionmaker = request.app.state.sessionmaker
    changeset = await service.generate_test(
        sessionmaker,
        user.id,
        project_id,
        service.GenerateRequest(
            environment=body.environment,
            path=body.path or "",
            recording=body.recording,
            description=body.description,
            provider=body.provider,
            model=body.model,
            target_path=body.target_path,
            verify_runs=body.verify_runs,
        ),
        settings=settings,
        explorer=_explorer(request, settings),
        planner=planner_from_settings(settings),
    )
    _jobs(request).start(service.verify_generated(sessionmaker, changeset.id, settings=settings))
    response.headers["Location"] = f"/v1/scripts/{changeset.script_id}/changesets/{changeset.id}"
    return ChangeSetOut.model_validate(changeset)


@router.get("/{project_id}/generate/preview", response_model=OutlineOut)
async def preview(
    project_id: uuid.UUID,
    request: Request,
    user: UserOutsideTransaction,
    settings: SettingsDep,
    # Optional in the schema so that the project is checked first: a stranger gets 404.
    environment: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    path: Annotated[
        str | None, Query(min_length=1, max_length=2000, pattern=PAGE_PATH_PATTERN)
    ] = None,
) -> OutlineOut:
    """The page's accessibility outline, read in the run sandbox."""
    outline = await service.preview_outline(
        request.app.state.sessionmaker,
        user.id,
        project_id,
        environment=environment or "",
        path=path or "",
        settings=settings,
        explorer=_explorer(request, settings),
    )
    return OutlineOut.model_validate(outline)
