"""SQL for insights, and the run history they are computed from."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, Table, delete, func, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from scriptflow.db.repository import Repository
from scriptflow.insights.models import AIInsight, InsightStatus, WarehouseQueueEntry
from scriptflow.runs.models import TERMINAL_STATUSES, TestRun
from scriptflow.scripts.models import ScriptRevision


class InsightRepository(Repository[AIInsight]):
    model = AIInsight

    async def by_fingerprints(
        self, project_id: uuid.UUID, fingerprints: Sequence[str]
    ) -> dict[str, AIInsight]:
        stmt = select(AIInsight).where(
            AIInsight.project_id == project_id, AIInsight.fingerprint.in_(fingerprints)
        )
        return {insight.fingerprint: insight for insight in (await self.session.scalars(stmt))}

    async def by_fingerprint(self, project_id: uuid.UUID, fingerprint: str) -> AIInsight:
        stmt = select(AIInsight).where(
            AIInsight.project_id == project_id, AIInsight.fingerprint == fingerprint
        )
        return (await self.session.execute(stmt)).scalar_one()

    async def insert_unless_taken(self, insight: AIInsight) -> bool:
        """Insert in a savepoint; False when a concurrent refresh took the same fingerprint."""
        try:
            async with self.session.begin_nested():
                self.session.add(insight)
                await self.session.flush()
        except IntegrityError:
            return False
        return True

    def listing(
        self,
        project_ids: Sequence[uuid.UUID],
        *,
        script_id: uuid.UUID | None,
        type: str | None,
        severity: str | None,
        status: str | None,
    ) -> Select[Any]:
        stmt = select(AIInsight).where(AIInsight.project_id.in_(project_ids))
        if script_id is not None:
            stmt = stmt.where(AIInsight.script_id == script_id)
        if type:
            stmt = stmt.where(AIInsight.type == type)
        if severity:
            stmt = stmt.where(AIInsight.severity == severity)
        if status:
            stmt = stmt.where(AIInsight.status == status)
        return stmt

    async def open_of_script(self, script_id: uuid.UUID) -> list[AIInsight]:
        """The script's open insights."""
        stmt = select(AIInsight).where(
            AIInsight.script_id == script_id, AIInsight.status == InsightStatus.OPEN
        )
        return list((await self.session.scalars(stmt)).all())

    async def of_project(self, project_id: uuid.UUID | None) -> list[AIInsight]:
        """Every insight of a project, or of all projects."""
        stmt = select(AIInsight)
        if project_id is not None:
            stmt = stmt.where(AIInsight.project_id == project_id)
        return list((await self.session.scalars(stmt)).all())


class HistoryRepository:
    """What insights read of other domains' rows: revisions, runs and their steps."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def latest_changeset_revision(self, script_id: uuid.UUID) -> ScriptRevision | None:
        stmt = (
            select(ScriptRevision)
            .where(ScriptRevision.script_id == script_id, ScriptRevision.source == "changeset")
            .order_by(ScriptRevision.version.desc())
            .limit(1)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def earliest_run_at(
        self, script_id: uuid.UUID, versions: Sequence[int]
    ) -> datetime | None:
        """When the first of the script's own runs of these versions was created."""
        stmt = select(func.min(TestRun.created_at)).where(
            TestRun.script_id == script_id, TestRun.script_version.in_(list(versions))
        )
        earliest: datetime | None = (await self.session.execute(stmt)).scalar_one_or_none()
        return earliest

    async def finished_run_ids(self, completed_since: datetime | None) -> list[uuid.UUID]:
        stmt = select(TestRun.id).where(TestRun.status.in_(sorted(TERMINAL_STATUSES)))
        if completed_since is not None:
            stmt = stmt.where(TestRun.completed_at >= completed_since)
        return list((await self.session.scalars(stmt)).all())


# PostgreSQL wakes the lake writer with this channel when a run is queued (delivered at commit).
QUEUE_CHANNEL = "scriptflow_warehouse_queue"


QUEUE_TABLE = cast(Table, WarehouseQueueEntry.__table__)


class WarehouseQueueRepository:
    """The warehouse queue: what waits for the deployment's one lake writer."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def enqueue(
        self, run_ids: Sequence[uuid.UUID] = (), project_ids: Sequence[uuid.UUID] = ()
    ) -> None:
        """Queue runs to append and projects whose insights to mirror, in the caller's
        transaction (and wake the writer at its commit)."""
        rows = [{"run_id": run_id} for run_id in run_ids]
        rows += [{"project_id": project_id} for project_id in project_ids]
        if not rows:
            return
        # The table's insert, not the ORM's: no RETURNING of the new ids, which nobody reads.
        await self.session.execute(insert(QUEUE_TABLE), rows)
        if self.session.get_bind().dialect.name == "postgresql":
            await self.session.execute(text(f"NOTIFY {QUEUE_CHANNEL}"))

    async def oldest(
        self, limit: int
    ) -> list[tuple[int, uuid.UUID | None, uuid.UUID | None, datetime]]:
        """The first ``limit`` entries, oldest first: (entry id, run id, project id, when)."""
        stmt = (
            select(
                WarehouseQueueEntry.id,
                WarehouseQueueEntry.run_id,
                WarehouseQueueEntry.project_id,
                WarehouseQueueEntry.enqueued_at,
            )
            .order_by(WarehouseQueueEntry.id)
            .limit(limit)
        )
        return [tuple(row) for row in (await self.session.execute(stmt)).all()]  # type: ignore[misc]

    async def remove(self, entry_ids: Sequence[int]) -> None:
        """The writer wrote these entries: they go."""
        if entry_ids:
            await self.session.execute(
                delete(WarehouseQueueEntry).where(WarehouseQueueEntry.id.in_(list(entry_ids)))
            )

    async def depth(self) -> int:
        """How many entries wait."""
        return int(
            (
                await self.session.execute(select(func.count()).select_from(WarehouseQueueEntry))
            ).scalar_one()
        )
