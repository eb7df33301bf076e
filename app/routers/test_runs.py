"""Test runs: the seed's create / status / cancel, plus listing, artifacts and live events."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Literal

from fastapi import APIRouter, BackgroundTasks, Path, Query, Request, Response, status
from fastapi.responses import FileResponse, StreamingResponse
from pydantic import Field

from app.deps import CurrentUser, SessionDep, SettingsDep, limiter
from app.pagination import link_next, public_url_for
from app.routers.artifact_downloads import artifact_response
from app.schemas import NO_NUL_PATTERN, Cursor, Limit, Moment
from app.schemas.run_progress import RunEventOut, RunProgressOut, ShardProgressOut
from app.schemas.test_runs import (
    CancelOut,
    RunArtifactOut,
    RunStepOut,
    RunTestOut,
    SuiteRunIn,
    TestRunIn,
    TestRunOut,
    TestRunSummaryOut,
)
from scriptflow import events
from scriptflow.errors import PayloadTooLarge
from scriptflow.runs import imported, service, suites
from scriptflow.runs.events import RunFinished, run_status_changes
from scriptflow.runs.junit import MAX_JUNIT_BYTES
from scriptflow.runs.progress.service import MAX_PAGE, run_progress
from scriptflow.runs.service import RunDetail, RunFilters
from scriptflow.runs.shards import MAX_SHARDS

router = APIRouter(tags=["test-runs"])

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def _wake_workers(request: Request) -> None:
    pool = getattr(request.app.state, "run_pool", None)
    if pool is not None:
        pool.wake()


def _detail_out(request: Request, detail: RunDetail) -> TestRunOut:
    out = TestRunOut.model_validate(detail.run)
    if out.selection:
        # A shard's durations are for its plugin, not for readers.
        out.selection = {k: v for k, v in out.selection.items() if k != "durations"}
    out.tests = [
        RunTestOut(
            name=t.name,
            nodeid=t.nodeid,
            file=t.file,
            outcome=t.outcome,
            duration_ms=t.duration_ms,
            attempts=t.attempts,
            error=t.error,
            steps=[RunStepOut.model_validate(s) for s in steps],
        )
        for t, steps in detail.tests
    ]
    base = public_url_for(request, "get_test_run", run_id=str(detail.run.id))
    out.artifacts = [
        RunArtifactOut(
            name=a.name,
            kind=a.kind,
            content_type=a.content_type,
            size_bytes=a.size_bytes,
            truncated=a.truncated,
            url=f"{base}/artifacts/{a.name}",
        )
        for a in detail.artifacts
    ]
    return out


@router.post("/test-runs", response_model=TestRunOut, status_code=status.HTTP_201_CREATED)
async def create_test_run(
    body: TestRunIn,
    request: Request,
    background: BackgroundTasks,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
) -> TestRunOut:
    await limiter(request, "runs").acheck(str(user.id))
    if isinstance(body, SuiteRunIn):
        run = await suites.create_suite_run(
            session,
            user.id,
            settings,
            project_id=body.project_id,
            environment=body.environment,
            browser=body.browser,
            select=body.select,
            keyword=body.k,
            markers=body.markers,
            shards=body.shards,
            retries=body.retries,
            timeout_s=body.timeout_s,
        )
    else:
        run = await service.create_run(
            session,
            user.id,
            settings,
            script_id=body.script_id,
            environment=body.environment,
            browser=body.browser,
            retries=body.retries,
            version=body.version,
            timeout_s=body.timeout_s,
        )
    # Runs after the response, i.e. after the request's transaction committed the run.
    background.add_task(_wake_workers, request)
    return TestRunOut.model_validate(run)


@router.get("/test-runs", response_model=list[TestRunSummaryOut])
async def list_test_runs(
    request: Request,
    response: Response,
    user: CurrentUser,
    session: SessionDep,
    script_id: uuid.UUID | None = None,
    project_id: uuid.UUID | None = None,
    status: Literal["queued", "running", "passed", "failed", "error", "cancelled"] | None = None,
    environment: Annotated[str | None, Query(max_length=100, pattern=NO_NUL_PATTERN)] = None,
    since: Annotated[Moment | None, Query(description="runs created at or after")] = None,
    limit: Limit = None,
    cursor: Cursor = None,
) -> list[TestRunSummaryOut]:
    filters = RunFilters(script_id, project_id, status, environment, since)
    page = await service.list_runs(session, user.id, filters, limit=limit, cursor=cursor)
    link_next(request, response, page.next_cursor)
    return [TestRunSummaryOut.model_validate(r) for r in page.items]


@router.get("/test-runs/{run_id}", response_model=TestRunOut)
async def get_test_run(
    run_id: uuid.UUID, request: Request, user: CurrentUser, session: SessionDep
) -> TestRunOut:
    return _detail_out(request, await service.get_run(session, user.id, run_id))


@router.get(
    "/test-runs/{run_id}/junit.xml",
    response_class=Response,
    responses={200: {"content": {"application/xml": {}}, "description": "JUnit XML"}},
)
async def test_run_junit(run_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> Response:
    """The run's tests as pytest's ``--junitxml`` writes them (retries as Surefire's
    ``flakyFailure`` / ``rerunFailure``)."""
    document = await service.run_junit(session, user.id, run_id)
    return Response(document, media_type="application/xml")


@router.post(
    "/projects/{project_id}/results",
    response_model=list[TestRunSummaryOut],
    status_code=status.HTTP_201_CREATED,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/xml": {"schema": {"type": "string"}}},
            "description": "A JUnit XML report (pytest's --junitxml, Playwright's junit reporter)",
        }
    },
)
async def import_results(
    project_id: uuid.UUID,
    request: Request,
    background: BackgroundTasks,
    user: CurrentUser,
    session: SessionDep,
    environment: Annotated[str, Query(min_length=1, max_length=100, pattern=NO_NUL_PATTERN)] = (
        "imported"
    ),
) -> list[TestRunSummaryOut]:
    """Store another CI's JUnit report as imported runs (one per file of the tree it names,
    one for the rest): history for insights, never executed."""
    await limiter(request, "runs").acheck(str(user.id))
    document = await read_capped_body(request, MAX_JUNIT_BYTES)
    runs = await imported.import_junit(
        session, user.id, project_id=project_id, document=document, environment=environment
    )
    for run in runs:  # after the commit, as a worker announces a finished run
        finished = RunFinished(run.id, run.project_id, run.script_id, run.status, run.trigger)
        background.add_task(events.dispatch, request.app.state.sessionmaker, finished)
    return [TestRunSummaryOut.model_validate(run) for run in runs]


async def read_capped_body(request: Request, limit: int) -> bytes:
    """The request body, refused once it passes ``limit`` bytes (never read whole first)."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"The report may have at most {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


@router.post("/test-runs/{run_id}/cancel", response_model=CancelOut)
async def cancel_test_run(
    run_id: uuid.UUID, background: BackgroundTasks, user: CurrentUser, session: SessionDep
) -> CancelOut:
    run = await service.cancel_run(session, user.id, run_id)
    background.add_task(run_status_changes.publish, run.id)  # after the commit
    # Once requested, the run can only end `cancelled` (the worker's finish honours the flag).
    return CancelOut(id=run.id, status="cancelled", cancel_requested=True)


@router.get(
    "/test-runs/{run_id}/artifacts/{name}",
    response_class=FileResponse,
    responses={200: {"content": {"*/*": {}}, "description": "The artifact's bytes"}},
)
async def download_artifact(
    run_id: uuid.UUID,
    name: Annotated[str, Path(max_length=255, pattern=NO_NUL_PATTERN)],
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    # From the deployment's artifact store (any worker may have run it): an attachment that is
    # never sniffed, so a run's bytes cannot render as a page of ours.
    return await artifact_response(session, user.id, run_id, name, settings)


@router.get(
    "/test-runs/{run_id}/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "status events"}},
)
async def test_run_events(
    run_id: uuid.UUID, request: Request, user: CurrentUser, session: SessionDep
) -> Response:
    """Server-sent events: one ``status`` event now and on every change, until terminal."""
    # A run the caller cannot see is a 404 before streaming. The request's session is closed
    # once this returns; the stream then polls with short sessions of its own.
    first = await service.run_snapshot(session, user.id, run_id)
    changes = service.watch_run(request.app.state.sessionmaker, user.id, first)

    def event(snapshot: service.RunSnapshot) -> str:
        return f"event: status\ndata: {json.dumps(snapshot.as_dict())}\n\n"

    async def stream() -> AsyncIterator[str]:
        yield event(first)
        async for snapshot in changes:
            yield event(snapshot)
            if await request.is_disconnected():
                return

    return StreamingResponse(stream(), media_type="text/event-stream", headers=SSE_HEADERS)


@router.get("/test-runs/{run_id}/progress", response_model=RunProgressOut)
async def test_run_progress(
    run_id: uuid.UUID,
    user: CurrentUser,
    session: SessionDep,
    after: Annotated[int, Query(ge=0, le=2**31 - 1, description="the last seq you have")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = MAX_PAGE,
    shard_after: Annotated[
        list[Annotated[int, Field(ge=0, le=2**31 - 1)]],
        Query(
            max_length=MAX_SHARDS,
            description="a sharded run: the last seq you have of each shard, in shard order",
        ),
    ] = [],  # noqa: B006  # FastAPI copies a query default per request
) -> RunProgressOut:
    """Live progress: the run's status and its events after ``after`` (tests started, long
    steps started, steps done, tests finished), published by the worker about once a second
    while it runs. A sharded run's progress merges its shards' events; each shard has its own
    cursor (``shards[i].next_after``, sent back as the i-th ``shard_after``).

    Poll with the answer's ``next_after`` until ``status`` is terminal; then the run's detail
    (``GET /v1/test-runs/{id}``) holds the stored tests and steps."""
    progress = await run_progress(
        session, user.id, run_id, after=after, limit=limit, shard_after=shard_after
    )
    return RunProgressOut(
        run_id=progress.run_id,
        status=progress.status,
        attempt=progress.attempt,
        started_at=progress.started_at,
        completed_at=progress.completed_at,
        events=[
            RunEventOut.model_validate(e).model_copy(update={"shard_index": progress.shard_of(e)})
            for e in progress.events
        ],
        next_after=progress.last_seq or after,
        shards=[
            ShardProgressOut(
                run_id=shard.run_id,
                shard_index=shard.shard_index,
                status=shard.status,
                attempt=shard.attempt,
                next_after=shard.last_seq,
            )
            for shard in progress.shards
        ],
    )
