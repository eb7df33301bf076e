"""SQL for test runs."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from scriptflow.runs.models import TestRun


class RunRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, run_id: uuid.UUID) -> TestRun | None:
        return await self.session.get(TestRun, run_id)

    async def last_results(self, script_id: uuid.UUID) -> dict[str, Any] | None:
        """The results of the script's most recently finished run (where locator hints live)."""
        stmt = (
            select(TestRun.results)
            .where(TestRun.script_id == script_id, TestRun.completed_at.is_not(None))
            .order_by(TestRun.completed_at.desc())
            .limit(1)
        )
        results = (await self.session.execute(stmt)).scalar_one_or_none()
        return results if isinstance(results, dict) else None
