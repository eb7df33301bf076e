"""Did the fix work: one revision's runs before and after, compared (step 5 of the workflow)."""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from scriptflow.errors import NotFound
from scriptflow.insights.findings import Finding, script_finding
from scriptflow.insights.repository import HistoryRepository
from scriptflow.insights.statistics import (
    decided_outcomes,
    flip_rate,
    pass_rate,
    percentile,
)
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


# The pure comparison, over plain samples (the dashboard's FIX_IMPACT_SQL makes it on the
# warehouse, over the same windows).


@dataclass(frozen=True, slots=True)
class RevisionSample:
    """Runs of one script version around an accepted revision (oldest first)."""

    version: int
    run_ids: Sequence[str]
    outcomes: Sequence[str]
    run_durations_ms: Sequence[float] = ()
    step_durations_ms: Mapping[str, Sequence[float]] = field(default_factory=dict)


def revision_metrics(sample: RevisionSample) -> dict[str, Any]:
    """Pass rate, flip rate, run p95 and per-step p95 of one side of a revision."""
    decided = decided_outcomes(sample.outcomes)
    rate = pass_rate(decided)
    run_p95 = percentile(list(sample.run_durations_ms), 0.95)
    return {
        "version": sample.version,
        "runs": len(decided),
        "pass_rate": None if rate is None else round(rate, 4),
        "flip_rate": round(flip_rate(decided), 4),
        "duration_p95_ms": None if math.isnan(run_p95) else round(run_p95, 1),
        "step_p95_ms": {
            step: round(percentile(list(values), 0.95), 1)
            for step, values in sorted(sample.step_durations_ms.items())
            if values
        },
        "run_ids": list(sample.run_ids)[-10:],
    }


def revision_impact(before: RevisionSample, after: RevisionSample, t: Thresholds) -> dict[str, Any]:
    """Before/after report of a revision; ``verdict`` is improved, worse, unchanged or pending."""
    b, a = revision_metrics(before), revision_metrics(after)
    report: dict[str, Any] = {"before": b, "after": a, "regressions": [], "improvements": []}
    if b["runs"] < t.fix_min_runs or a["runs"] < t.fix_min_runs:
        report["verdict"] = "pending"
        report["needs_runs"] = t.fix_min_runs
        return report
    regressions, improvements = report["regressions"], report["improvements"]
    if b["pass_rate"] - a["pass_rate"] > t.fix_max_pass_rate_drop:
        regressions.append("pass_rate")
    elif a["pass_rate"] - b["pass_rate"] > t.fix_max_pass_rate_drop:
        improvements.append("pass_rate")
    if a["flip_rate"] - b["flip_rate"] > t.fix_max_flip_rate_rise:
        regressions.append("flip_rate")
    elif b["flip_rate"] - a["flip_rate"] > t.fix_max_flip_rate_rise:
        improvements.append("flip_rate")
    bp, ap = b["duration_p95_ms"], a["duration_p95_ms"]
    if bp and ap and ap > bp * t.fix_max_p95_ratio:
        regressions.append("duration_p95_ms")
    elif bp and ap and bp > ap * t.fix_max_p95_ratio:
        improvements.append("duration_p95_ms")
    slower_steps = [
        step
        for step, after_p95 in a["step_p95_ms"].items()
        if (before_p95 := b["step_p95_ms"].get(step))
        and after_p95 > before_p95 * t.fix_max_p95_ratio
        and after_p95 - before_p95 >= t.slow_min_delta_ms
    ]
    if slower_steps:
        regressions.append("step_p95_ms")
        report["slower_steps"] = slower_steps
    report["verdict"] = "worse" if regressions else "improved" if improvements else "unchanged"
    return report


def fix_regression_findings(
    project_id: str,
    script_id: str,
    changeset_id: str | None,
    report: Mapping[str, Any],
) -> list[Finding]:
    """fix-regression: an insight when an accepted change made things worse."""
    if report.get("verdict") != "worse":
        return []
    before, after = report["before"], report["after"]
    drop = (before["pass_rate"] or 0) - (after["pass_rate"] or 0)
    return [
        script_finding(
            "fix-regression",
            project_id,
            script_id,
            (after["version"],),
            severity="critical" if drop >= 0.5 else "high",
            summary=(
                f"Revision v{after['version']} made things worse: "
                + ", ".join(report["regressions"])
                + f" (pass rate {before['pass_rate']:.0%} → {after['pass_rate']:.0%})"
            ),
            details={"changeset_id": changeset_id, **dict(report)},
        )
    ]
