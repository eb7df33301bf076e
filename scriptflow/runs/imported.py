"""Results imported from another CI: a JUnit XML report becomes finished runs marked
``imported`` that no worker executes, one per file of the project's tree the report names (so
that file's insights see them) and one for the rest."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from scriptflow.db.base import utcnow
from scriptflow.projects.roles import Role
from scriptflow.projects.service import require_role
from scriptflow.runs.junit import JUnitCase, display_name, parse_junit
from scriptflow.runs.models import RunKind, RunStatus, RunTest, TestRun
from scriptflow.runs.suites import test_file
from scriptflow.runs.triage import classify_run
from scriptflow.scripts.repository import ScriptRepository


async def import_junit(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    project_id: uuid.UUID,
    document: bytes,
    environment: str = "imported",
    browser: str = "chromium",
) -> list[TestRun]:
    """Store another CI's JUnit report as finished runs marked ``imported`` (never executed):
    one per file of the tree it names (so the file's insights see them), one for the rest."""
    await require_role(session, user_id, project_id, Role.EDITOR)
    scripts = {s.path: s for s in await ScriptRepository(session).tree(project_id)}
    cases = await asyncio.to_thread(parse_junit, document, list(scripts))
    groups: dict[str | None, list[JUnitCase]] = {}
    for case in cases:
        path = test_file(case.node_id)
        groups.setdefault(path if path in scripts else None, []).append(case)
    runs = []
    for path, group in groups.items():
        script = scripts.get(path) if path is not None else None
        runs.append(
            await _imported_run(
                session,
                user_id,
                project_id,
                group,
                environment=environment,
                browser=browser,
                script_id=script.id if script else None,
                script_version=script.version if script else None,
            )
        )
    return runs


async def _imported_run(
    session: AsyncSession,
    user_id: uuid.UUID,
    project_id: uuid.UUID,
    cases: Sequence[JUnitCase],
    *,
    environment: str,
    browser: str,
    script_id: uuid.UUID | None,
    script_version: int | None,
) -> TestRun:
    now = utcnow()
    status = _imported_status(cases)
    summary = {o: 0 for o in ("passed", "failed", "flaky", "skipped", "error")}
    for case in cases:
        summary[case.outcome] = summary.get(case.outcome, 0) + 1
    run = TestRun(
        project_id=project_id,
        script_id=script_id,
        script_version=script_version,
        kind=RunKind.IMPORTED,
        environment=environment[:100],
        base_url="",
        browser=browser[:32],
        status=status,
        retries=0,
        timeout_s=0,
        attempt=1,
        max_attempts=1,
        cancel_requested=False,
        trigger="import",
        created_by=user_id,
        started_at=now,
        completed_at=now,
        error=None if status == "passed" else _first_failure(cases),
        results={
            "summary": {"total": len(cases), **summary},
            "tests": [
                {
                    "name": display_name(c.node_id),
                    "nodeid": c.node_id,
                    "outcome": c.outcome,
                    "duration_ms": c.duration_ms,
                    "attempts": c.attempts,
                    "error": c.error,
                }
                for c in cases
            ],
            "duration_ms": sum(c.duration_ms for c in cases),
            "imported": True,
        },
    )
    session.add(run)
    await session.flush()
    for position, case in enumerate(cases):
        session.add(
            RunTest(
                run_id=run.id,
                position=position,
                name=display_name(case.node_id)[:500],
                nodeid=case.node_id,
                file=test_file(case.node_id),
                outcome=case.outcome,
                duration_ms=case.duration_ms,
                attempts=case.attempts,
                error=case.error,
            )
        )
    await session.flush()
    await classify_run(session, run.id)
    return run


def _imported_status(cases: Sequence[JUnitCase]) -> str:
    if any(c.outcome in ("failed", "error") for c in cases):
        return RunStatus.FAILED
    return RunStatus.PASSED


def _first_failure(cases: Sequence[JUnitCase]) -> str | None:
    failing = next((c for c in cases if c.outcome in ("failed", "error")), None)
    return f"{failing.node_id}: {failing.error}" if failing else None
