"""A finished run's detail rows: its tests, their steps and its artifacts."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from scriptflow.runs.executor import ExecutionResult, TestResult
from scriptflow.runs.models import RunArtifact, RunStep, RunTest
from scriptflow.runs.suites import test_file

__all__ = ["artifact_rows", "store_details"]


async def store_details(
    session: AsyncSession, run_id: uuid.UUID, result: ExecutionResult, data_dir: Path
) -> None:
    """Add per-test, per-step and artifact rows for a finished run."""
    test_rows: list[tuple[RunTest, TestResult]] = []
    for position, test in enumerate(result.tests):
        row = RunTest(
            id=uuid.uuid4(),
            run_id=run_id,
            position=position,
            name=test.name[:500],
            nodeid=test.nodeid or None,
            file=test_file(test.nodeid),
            outcome=test.outcome,
            duration_ms=test.duration_ms,
            attempts=test.attempts,
            error=test.error,
        )
        session.add(row)
        test_rows.append((row, test))
    # Tests first: steps reference them and there is no ORM relationship to order the inserts.
    await session.flush()
    for row, test in test_rows:
        for step_position, step in enumerate(test.steps):
            session.add(
                RunStep(
                    run_id=run_id,
                    test_id=row.id,
                    position=step_position,
                    attempt=step.attempt,
                    action=step.action[:100],
                    locator=step.locator[:1000] if step.locator else None,
                    duration_ms=step.duration_ms,
                    outcome=step.outcome,
                    error=step.error,
                )
            )
    session.add_all(artifact_rows(run_id, result, data_dir))


def artifact_rows(run_id: uuid.UUID, result: ExecutionResult, data_dir: Path) -> list[RunArtifact]:
    """Artifact rows with paths relative to the data dir (files outside it are skipped)."""
    root = os.path.abspath(data_dir)
    rows = []
    for artifact in result.artifacts:
        relative = Path(os.path.relpath(artifact.path, root))
        if relative.parts[:1] == ("..",):
            continue
        rows.append(
            RunArtifact(
                run_id=run_id,
                name=artifact.name,
                kind=artifact.kind,
                content_type=artifact.content_type,
                size_bytes=artifact.size_bytes,
                truncated=artifact.truncated,
                path=relative.as_posix(),
            )
        )
    return rows
