"""SQL for test runs."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select, update

from scriptflow.db.engine import is_sqlite
from scriptflow.db.repository import Repository
from scriptflow.runs.models import RunArtifact, RunKind, RunStatus, RunStep, RunTest, TestRun
from scriptflow.scripts.models import Script


@dataclass(frozen=True)
class RunFilters:
    """Optional filters of a run listing."""

    script_id: uuid.UUID | None = None
    project_id: uuid.UUID | None = None
    status: str | None = None
    environment: str | None = None
    since: datetime | None = None
    until: datetime | None = None  # created before (a dashboard bucket's drill-down)


# Recent runs of a project searched for the hints of a file no run has as its script.
HINT_SEARCH_RUNS = 20


def _built_in(hint: dict[str, Any], path: str) -> bool:
    """Whether a stored hint's locator was built in this file (at its first or a later place)."""
    places = hint.get("places")
    others = places if isinstance(places, list) else []
    return hint.get("file") == path or any(
        isinstance(place, dict) and place.get("file") == path for place in others
    )


class RunRepository(Repository[TestRun]):
    model = TestRun

    async def last_results(self, script_id: uuid.UUID) -> dict[str, Any] | None:
        """The results where a file's locator hints live: its own most recent finished run,
        else (a page object is never a run's script) the newest recent run of its project whose
        tree held it, narrowed to the hints of locators built in that file."""
        stmt = (
            select(TestRun.results)
            .where(TestRun.script_id == script_id, TestRun.completed_at.is_not(None))
            .order_by(TestRun.completed_at.desc())
            .limit(1)
        )
        results = (await self.session.execute(stmt)).scalar_one_or_none()
        if isinstance(results, dict) and results.get("locator_hints"):
            return results
        script = (
            await self.session.execute(
                select(Script.project_id, Script.path).where(Script.id == script_id)
            )
        ).first()
        if script is None:
            return results if isinstance(results, dict) else None
        project_id, path = script
        recent = (
            select(TestRun.results)
            .where(
                TestRun.project_id == project_id,
                TestRun.completed_at.is_not(None),
                TestRun.snapshot.is_not(None),
                TestRun.kind != RunKind.SHARDED,
            )
            .order_by(TestRun.completed_at.desc())
            .limit(HINT_SEARCH_RUNS)
        )
        for found in (await self.session.execute(recent)).scalars():
            hints = (found or {}).get("locator_hints") if isinstance(found, dict) else None
            if not isinstance(hints, dict):
                continue
            built_here = {
                selector: hint
                for selector, hint in hints.items()
                if isinstance(hint, dict) and _built_in(hint, path)
            }
            if built_here:
                return {"locator_hints": built_here}
        return results if isinstance(results, dict) else None

    def visible(self, project_ids: Sequence[uuid.UUID], filters: RunFilters) -> Select[Any]:
        """Runs of these projects, narrowed by the listing's filters."""
        stmt = select(TestRun).where(TestRun.project_id.in_(project_ids))
        if filters.project_id is not None:
            stmt = stmt.where(TestRun.project_id == filters.project_id)
        if filters.script_id is not None:
            stmt = stmt.where(TestRun.script_id == filters.script_id)
        if filters.status is not None:
            stmt = stmt.where(TestRun.status == filters.status)
        if filters.environment is not None:
            stmt = stmt.where(TestRun.environment == filters.environment)
        if filters.since is not None:
            stmt = stmt.where(TestRun.created_at >= filters.since)
        if filters.until is not None:
            stmt = stmt.where(TestRun.created_at < filters.until)
        return stmt

    async def lock(self, run_id: uuid.UUID) -> TestRun | None:
        """The run, locked for this transaction where the database can (PostgreSQL)."""
        stmt = select(TestRun).where(TestRun.id == run_id).execution_options(populate_existing=True)
        if not is_sqlite(self.session):
            stmt = stmt.with_for_update()
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def shards(self, parent_id: uuid.UUID) -> list[TestRun]:
        stmt = (
            select(TestRun)
            .where(TestRun.parent_id == parent_id)
            .order_by(TestRun.shard_index)
            .execution_options(populate_existing=True)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def recent_durations(
        self, project_id: uuid.UUID, runs: int, limit: int
    ) -> dict[str, int]:
        """Each node id's mean duration over the project's last ``runs`` finished runs."""
        recent = (
            select(TestRun.id)
            .where(
                TestRun.project_id == project_id,
                TestRun.completed_at.is_not(None),
                TestRun.kind != RunKind.SHARDED,  # its tests are its shards' tests again
            )
            .order_by(TestRun.completed_at.desc())
            .limit(runs)
            .scalar_subquery()
        )
        stmt = (
            select(RunTest.nodeid, func.avg(RunTest.duration_ms))
            .where(RunTest.run_id.in_(recent), RunTest.nodeid.is_not(None))
            .where(RunTest.outcome != "skipped")
            .group_by(RunTest.nodeid)
            .limit(limit)
        )
        rows = (await self.session.execute(stmt)).all()
        return {str(nodeid): int(mean or 0) for nodeid, mean in rows}

    async def tests(self, run_id: uuid.UUID) -> list[RunTest]:
        stmt = select(RunTest).where(RunTest.run_id == run_id).order_by(RunTest.position)
        return list((await self.session.execute(stmt)).scalars())

    async def steps(self, run_id: uuid.UUID) -> list[RunStep]:
        stmt = select(RunStep).where(RunStep.run_id == run_id).order_by(RunStep.position)
        return list((await self.session.execute(stmt)).scalars())

    async def node_tests(self, run_id: uuid.UUID) -> list[tuple[uuid.UUID, str, str | None]]:
        """A run's tests that have a pytest node id: (test id, node id, file)."""
        stmt = select(RunTest.id, RunTest.nodeid, RunTest.file).where(
            RunTest.run_id == run_id, RunTest.nodeid.is_not(None)
        )
        return [
            (ident, str(nodeid), file) for ident, nodeid, file in await self.session.execute(stmt)
        ]

    async def tests_acting_on(self, run_id: uuid.UUID, locator: Any) -> set[uuid.UUID]:
        """The ids of a run's tests with a step on this locator."""
        stmt = (
            select(RunStep.test_id)
            .where(RunStep.run_id == run_id, RunStep.locator == locator)
            .distinct()
        )
        return {ident for ident in (await self.session.execute(stmt)).scalars() if ident}

    async def queued_confirmations(
        self, project_id: uuid.UUID, confirms: uuid.UUID
    ) -> list[TestRun]:
        """The still queued suite confirmation reruns (no shards) that answer run ``confirms``,
        oldest first (few rows: filtered here, not by a JSON path both databases spell apart)."""
        stmt = (
            select(TestRun)
            .where(
                TestRun.project_id == project_id,
                TestRun.trigger == "confirmation",
                TestRun.status == RunStatus.QUEUED,
                TestRun.parent_id.is_(None),
                TestRun.kind.in_((RunKind.SUITE, RunKind.SHARDED)),
            )
            .order_by(TestRun.created_at, TestRun.id)
        )
        runs = (await self.session.execute(stmt)).scalars()
        return [run for run in runs if (run.selection or {}).get("confirms") == str(confirms)]

    async def reselect_queued(self, selections: dict[uuid.UUID, dict[str, Any]]) -> bool:
        """Give these runs new selections if every one of them is still queued (a worker claims
        a run by moving it out of ``queued``); False, with nothing changed, otherwise."""
        async with self.session.begin_nested() as savepoint:
            for run_id, selection in selections.items():
                stmt = (
                    update(TestRun)
                    .where(TestRun.id == run_id, TestRun.status == RunStatus.QUEUED)
                    .values(selection=selection)
                    .execution_options(synchronize_session="fetch")
                )
                if (await self.session.execute(stmt)).rowcount != 1:  # type: ignore[attr-defined]
                    await savepoint.rollback()
                    return False
        for run_id in selections:  # the runs this session holds show their new selections
            run = await self.session.get(TestRun, run_id)
            if run is not None:
                await self.session.refresh(run)
        return True

    async def artifacts(self, run_id: uuid.UUID) -> list[RunArtifact]:
        stmt = select(RunArtifact).where(RunArtifact.run_id == run_id).order_by(RunArtifact.name)
        return list((await self.session.execute(stmt)).scalars())

    async def trace_names(
        self, project_ids: Sequence[uuid.UUID], run_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, str]:
        """The first trace of each of these runs of these projects (for trace viewer links)."""
        stmt = (
            select(RunArtifact.run_id, func.min(RunArtifact.name))
            .join(TestRun, TestRun.id == RunArtifact.run_id)
            .where(
                TestRun.project_id.in_(project_ids),
                RunArtifact.run_id.in_(run_ids),
                RunArtifact.kind == "trace",
            )
            .group_by(RunArtifact.run_id)
        )
        return {run_id: name for run_id, name in (await self.session.execute(stmt)).all()}

    async def artifact(self, run_id: uuid.UUID, name: str) -> RunArtifact | None:
        stmt = select(RunArtifact).where(RunArtifact.run_id == run_id, RunArtifact.name == name)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def request_cancel(self, run_id: uuid.UUID, now: datetime) -> None:
        """Cancel a queued run now; flag a running one for its worker to stop."""
        # A sharded run's shards are cancelled with it (and it ends when the last one has).
        await self.session.execute(
            update(TestRun)
            .where(TestRun.parent_id == run_id, TestRun.status == RunStatus.QUEUED)
            .values(
                status=RunStatus.CANCELLED,
                cancel_requested=True,
                completed_at=now,
                error="Run cancelled",
            )
            .execution_options(synchronize_session=False)
        )
        await self.session.execute(
            update(TestRun)
            .where(TestRun.parent_id == run_id, TestRun.status == RunStatus.RUNNING)
            .values(cancel_requested=True)
            .execution_options(synchronize_session=False)
        )
        queued = await self.session.execute(
            update(TestRun)
            .where(
                TestRun.id == run_id,
                TestRun.status == RunStatus.QUEUED,
                TestRun.kind != RunKind.SHARDED,
            )
            .values(
                status=RunStatus.CANCELLED,
                cancel_requested=True,
                completed_at=now,
                error="Run cancelled",
            )
            .execution_options(synchronize_session=False)
        )
        if not queued.rowcount:  # type: ignore[attr-defined]
            # Claimed meanwhile (or already running): the worker sees the flag on its next check.
            await self.session.execute(
                update(TestRun)
                .where(
                    TestRun.id == run_id,
                    TestRun.status.in_([RunStatus.RUNNING, RunStatus.QUEUED]),
                )
                .values(cancel_requested=True)
                .execution_options(synchronize_session=False)
            )
