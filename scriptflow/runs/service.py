"""Test-run use cases: create (validated, pinned), read, list, cancel, artifacts, watch."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scriptflow.config import Settings
from scriptflow.db.base import utcnow
from scriptflow.db.engine import transaction
from scriptflow.errors import InvalidRunState, NotFound, ValidationFailed
from scriptflow.pagination import Page, clamp_limit
from scriptflow.projects.roles import Role
from scriptflow.projects.service import member_project_ids, require_role
from scriptflow.runs.events import run_status_changes
from scriptflow.runs.junit import write_junit
from scriptflow.runs.models import (
    TERMINAL_STATUSES,
    RunArtifact,
    RunKind,
    RunStatus,
    RunStep,
    RunTest,
    TestRun,
)
from scriptflow.runs.repository import RunFilters, RunRepository
from scriptflow.runs.script_forms import prepare_script
from scriptflow.runs.shard_merge import merge_parent
from scriptflow.runs.suites import check_run_target, pin_tree
from scriptflow.scripts.repository import ScriptRepository
from scriptflow.scripts.service import get_script, require_python

MAX_RETRIES = 5
MAX_TIMEOUT_S = 3600
RUN_STATUSES = tuple(status.value for status in RunStatus)
WATCH_POLL_S = 0.5


@dataclass(frozen=True)
class RunDetail:
    run: TestRun
    tests: list[tuple[RunTest, list[RunStep]]]
    artifacts: list[RunArtifact]


def _invalid(field: str, message: str, **details: object) -> ValidationFailed:
    return ValidationFailed.for_field(field, message, message=message, **details)


async def create_run(
    session: AsyncSession,
    user_id: uuid.UUID,
    settings: Settings,
    *,
    script_id: uuid.UUID,
    environment: str,
    browser: str,
    retries: int = 0,
    version: int | None = None,
    timeout_s: int | None = None,
    trigger: str = "manual",
) -> TestRun:
    """Queue a run of a script version against a named environment; pins version and base URL."""
    script = await get_script(session, user_id, script_id, Role.EDITOR)
    require_python(script, "run")
    env_id, env_name, base_url = await check_run_target(
        session, settings, script.project_id, environment, browser
    )
    if not 0 <= retries <= MAX_RETRIES:
        raise _invalid("retries", f"retries must be between 0 and {MAX_RETRIES}")
    timeout = settings.run_timeout_s if timeout_s is None else timeout_s
    if not 5 <= timeout <= MAX_TIMEOUT_S:
        raise _invalid("timeout_s", f"timeout_s must be between 5 and {MAX_TIMEOUT_S}")
    pinned = script.version if version is None else version
    content = await _content_at(session, script.id, pinned, script.version, script.content)
    if content is None:
        raise _invalid("version", f"The script has no version {pinned}", current=script.version)
    prepare_script(content)  # a script that cannot parse is a 422 now, not an error run later
    # The file runs within its tree: conftest, page objects and data files at this moment.
    tree = await pin_tree(session, script.project_id, {script.id: pinned})
    run = TestRun(
        kind=RunKind.SCRIPT,
        snapshot=tree.files,
        selection={"select": [script.path], "k": None, "markers": None},
        project_id=script.project_id,
        script_id=script.id,
        script_version=pinned,
        environment_id=env_id,
        environment=env_name,
        base_url=base_url,
        browser=browser,
        status="queued",
        retries=retries,
        timeout_s=timeout,
        attempt=0,
        max_attempts=settings.run_max_attempts,
        cancel_requested=False,
        trigger=trigger,
        created_by=user_id,
    )
    session.add(run)
    await session.flush()
    return run


async def _content_at(
    session: AsyncSession, script_id: uuid.UUID, version: int, current: int, current_content: str
) -> str | None:
    if version == current:
        return current_content
    revision = await ScriptRepository(session).revision(script_id, version)
    return revision.content if revision is not None else None


async def _visible_run(
    session: AsyncSession, user_id: uuid.UUID, run_id: uuid.UUID, minimum: Role = Role.VIEWER
) -> TestRun:
    run = await RunRepository(session).get(run_id)
    if run is None:
        raise NotFound("test run", run_id)
    try:
        await require_role(session, user_id, run.project_id, minimum)
    except NotFound:
        raise NotFound("test run", run_id) from None
    return run


async def get_run(session: AsyncSession, user_id: uuid.UUID, run_id: uuid.UUID) -> RunDetail:
    """A run with its tests, steps and artifacts; other people's runs are not found."""
    run = await _visible_run(session, user_id, run_id)
    runs = RunRepository(session)
    tests = await runs.tests(run.id)
    by_test: dict[uuid.UUID, list[RunStep]] = {}
    for step in await runs.steps(run.id):
        by_test.setdefault(step.test_id, []).append(step)
    artifacts = await runs.artifacts(run.id)
    return RunDetail(run, [(t, by_test.get(t.id, [])) for t in tests], artifacts)


async def run_junit(session: AsyncSession, user_id: uuid.UUID, run_id: uuid.UUID) -> bytes:
    """The run's tests as JUnit XML (a sharded run: every shard's tests)."""
    run = await _visible_run(session, user_id, run_id)
    tests = [
        {
            "nodeid": t.nodeid or t.name,
            "outcome": t.outcome,
            "duration_ms": t.duration_ms,
            "attempts": t.attempts,
            "error": t.error,
        }
        for t in await RunRepository(session).tests(run.id)
    ]
    duration = (run.results or {}).get("duration_ms")
    return await asyncio.to_thread(
        write_junit,
        tests,
        started_at=run.started_at,
        duration_ms=int(duration) if isinstance(duration, int) else 0,
    )


async def list_runs(
    session: AsyncSession,
    user_id: uuid.UUID,
    filters: RunFilters,
    *,
    limit: int | None = None,
    cursor: str | None = None,
) -> Page[TestRun]:
    """Runs in the caller's projects, newest first, filtered."""
    n = clamp_limit(limit)
    if filters.status is not None and filters.status not in RUN_STATUSES:
        raise _invalid("status", f"status must be one of {', '.join(RUN_STATUSES)}")
    projects = await member_project_ids(session, user_id)
    runs = RunRepository(session)
    return await runs.paginate(runs.visible(projects, filters), cursor=cursor, limit=n)


async def run_traces(
    session: AsyncSession, user_id: uuid.UUID, run_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """The trace artifact of each of these runs the caller may see (others are left out)."""
    if not run_ids:
        return {}
    projects = await member_project_ids(session, user_id)
    return await RunRepository(session).trace_names(projects, run_ids)


async def cancel_run(session: AsyncSession, user_id: uuid.UUID, run_id: uuid.UUID) -> TestRun:
    """Queued: cancelled now. Running: flagged; its worker kills the process group within seconds
    and the run ends ``cancelled`` whatever it was doing. Finished: 409 INVALID_RUN_STATE."""
    run = await _visible_run(session, user_id, run_id, Role.EDITOR)
    if run.status in TERMINAL_STATUSES:
        raise InvalidRunState(
            f"The run already ended with status {run.status!r}",
            details={"status": run.status},
        )
    runs = RunRepository(session)
    await runs.request_cancel(run.id, utcnow())
    if run.kind == RunKind.SHARDED:
        await merge_parent(session, run.id)  # ends now if every shard was still queued
    await runs.refresh(run)
    if run.status not in ("cancelled", "running", "queued"):
        raise InvalidRunState(
            f"The run already ended with status {run.status!r}", details={"status": run.status}
        )
    return run


@dataclass(frozen=True)
class RunSnapshot:
    id: uuid.UUID
    status: str
    started_at: datetime | None
    completed_at: datetime | None
    attempt: int
    error: str | None

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    def as_dict(self) -> dict[str, object]:
        return {
            "id": str(self.id),
            "status": self.status,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "completed_at": self.completed_at.isoformat() if self.completed_at else None,
            "attempt": self.attempt,
            "error": self.error,
        }


async def run_snapshot(session: AsyncSession, user_id: uuid.UUID, run_id: uuid.UUID) -> RunSnapshot:
    """The run's state now; NotFound for a run the caller cannot see."""
    run = await _visible_run(session, user_id, run_id)
    return RunSnapshot(run.id, run.status, run.started_at, run.completed_at, run.attempt, run.error)


async def watch_run(
    sessionmaker: async_sessionmaker[AsyncSession],
    user_id: uuid.UUID,
    since: RunSnapshot,
    *,
    poll_s: float = WATCH_POLL_S,
) -> AsyncIterator[RunSnapshot]:
    """Yield the run's state on every change after ``since`` until it is terminal.

    Wakes at once for changes made in this process and polls the database (short read
    transactions) for changes made by workers elsewhere.
    """
    last = (since.status, since.attempt)
    if since.is_terminal:
        return
    while True:
        await run_status_changes.wait(since.id, poll_s)
        async with transaction(sessionmaker, write=False) as session:
            snapshot = await run_snapshot(session, user_id, since.id)
        key = (snapshot.status, snapshot.attempt)
        if key != last:
            last = key
            yield snapshot
        if snapshot.is_terminal:
            return
