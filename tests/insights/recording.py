"""Record finished runs straight into the SQL database, as a worker would have stored them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scriptflow.db.engine import transaction
from scriptflow.runs.models import RunStep, RunTest, TestRun
from tests.insights.history import Step


async def record_run(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    project_id: str,
    script_id: str,
    steps: list[Step],
    outcome: str = "passed",
    version: int = 1,
    environment: str = "staging",
    browser: str = "chromium",
    created_at: datetime | None = None,
    trigger: str = "manual",
    created_by: str | None = None,
) -> uuid.UUID:
    """One finished run with one test and its steps; returns the run id."""
    created = created_at or datetime.now(UTC)
    failed = [s for s in steps if s.outcome == "failed"]
    async with transaction(sessionmaker) as session:
        run = TestRun(
            project_id=uuid.UUID(project_id),
            script_id=uuid.UUID(script_id),
            script_version=version,
            environment=environment,
            base_url="http://127.0.0.1:9",
            browser=browser,
            status="failed" if outcome == "failed" else "passed",
            trigger=trigger,
            created_at=created,
            started_at=created,
            completed_at=created + timedelta(milliseconds=sum(s.duration_ms for s in steps)),
            created_by=uuid.UUID(created_by) if created_by else None,
        )
        session.add(run)
        await session.flush()
        test = RunTest(
            run_id=run.id,
            position=0,
            name="test_login",
            outcome=outcome,
            duration_ms=sum(s.duration_ms for s in steps),
            attempts=2 if outcome == "flaky" else 1,
            error=failed[-1].error if failed else None,
        )
        session.add(test)
        await session.flush()
        for position, step in enumerate(steps):
            session.add(
                RunStep(
                    run_id=run.id,
                    test_id=test.id,
                    position=position,
                    attempt=1,
                    action=step.action,
                    locator=step.locator,
                    duration_ms=step.duration_ms,
                    outcome=step.outcome,
                    error=step.error,
                )
            )
        return run.id
