"""Did the fix work: one revision's runs before and after, compared (step 5 of the workflow)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from scriptflow.errors import NotFound
from scriptflow.insights.repository import HistoryRepository
from scriptflow.insights.rules import RevisionSample, revision_impact
from scriptflow.insights.thresholds import Thresholds
from scriptflow.projects.repository import ProjectRepository
from scriptflow.scripts.models import Script, ScriptRevision
from scriptflow.scripts.repository import ScriptRepository
from scriptflow.scripts.service import get_script


async def revision_impact_for(
    session: AsyncSession, user_id: uuid.UUID, script_id: uuid.UUID, version: int
) -> dict[str, Any]:
    """Before/after report of one revision of a script (404 for an unknown version)."""
    script = await get_script(session, user_id, script_id)
    revision = await ScriptRepository(session).revision(script.id, version)
    if revision is None:
        raise NotFound("revision", version)
    thresholds = await thresholds_of(session, script)
    report = await impact_report(session, script, revision, thresholds)
    return {
        "script_id": str(script.id),
        "version": revision.version,
        "source": revision.source,
        "changeset_id": str(revision.changeset_id) if revision.changeset_id else None,
        "accepted_at": revision.created_at.isoformat(),
        "window_runs": thresholds.window_runs,
        **report,
    }


async def thresholds_of(session: AsyncSession, script: Script) -> Thresholds:
    """The script's project's insight thresholds (defaults where the project sets none)."""
    project = await ProjectRepository(session).get(script.project_id)
    return Thresholds.from_project_settings(project.settings if project else None)


async def impact_report(
    session: AsyncSession, script: Script, revision: ScriptRevision, thresholds: Thresholds
) -> dict[str, Any]:
    """The before/after comparison of the window of runs either side of a revision."""
    history = HistoryRepository(session)
    before = await _revision_sample(
        history, script.id, revision.version - 1, thresholds.window_runs, newest=True
    )
    after = await _revision_sample(
        history, script.id, revision.version, thresholds.window_runs, newest=False
    )
    return revision_impact(before, after, thresholds)


async def _revision_sample(
    history: HistoryRepository, script_id: uuid.UUID, version: int, window: int, *, newest: bool
) -> RevisionSample:
    """The last (before) or first (after) ``window`` decided runs of one version."""
    runs = await history.decided_runs(script_id, version, window, newest=newest)
    ids = [run.id for run in runs]
    return RevisionSample(
        version=version,
        run_ids=[str(ident) for ident in ids],
        outcomes=[run.status for run in runs],
        run_durations_ms=[
            (run.completed_at - run.started_at).total_seconds() * 1000
            for run in runs
            if run.started_at and run.completed_at
        ],
        step_durations_ms=await history.passed_step_durations(ids),
    )
