"""Did the fix work: one revision's runs before and after, compared (step 5 of the workflow)."""

from __future__ import annotations

import asyncio
import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import pyarrow as pa
from sqlalchemy.ext.asyncio import AsyncSession

from scriptflow.errors import NotFound
from scriptflow.insights import rollups
from scriptflow.insights.analysis import bound_params
from scriptflow.insights.extract import RunBatch, extract_revisions, extract_runs
from scriptflow.insights.findings import Finding, script_finding
from scriptflow.insights.memory_history import MemoryHistory
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
        # The window the report used: a project may set more runs than the rollups keep.
        "window_runs": rollups.capped_window(thresholds.window_runs),
        **report,
    }


async def thresholds_of(session: AsyncSession, script: Script) -> Thresholds:
    """The script's project's insight thresholds (defaults where the project sets none)."""
    project = await ProjectRepository(session).get(script.project_id)
    return Thresholds.from_project_settings(project.settings if project else None)


async def impact_report(
    session: AsyncSession, script: Script, revision: ScriptRevision, thresholds: Thresholds
) -> dict[str, Any]:
    """The before/after comparison of the window of runs either side of a revision.

    The script's history since its runs of these versions can start is extracted as for the
    warehouse (``extract``: a suite run counts for this file with the file's own status and
    duration), and the windows are chosen by the dashboard's own ``REVISION_SAMPLES_SQL``.
    """
    since = await _history_start(session, script, revision.version)
    batches = await session.run_sync(
        lambda sync: list(extract_runs(sync, script_id=script.id, created_since=since))
    )
    revisions = await session.run_sync(lambda sync: extract_revisions(sync, script_id=script.id))
    return await asyncio.to_thread(
        _impact_over_history, batches, revisions, script.id, revision.version, thresholds
    )


async def _history_start(session: AsyncSession, script: Script, version: int) -> datetime | None:
    """Where the runs of the version before and of this one can start: the first of the file's
    own runs of either (imported and backfilled runs may predate their revision), or the time
    the version before was made (a suite run pins versions that existed when it was created)."""
    versions = [version - 1, version]
    starts = [await HistoryRepository(session).earliest_run_at(script.id, versions)]
    previous = await ScriptRepository(session).revision(script.id, version - 1)
    if previous is not None:
        starts.append(previous.created_at)
    known = [start for start in starts if start is not None]
    return min(known) if known else None


def _impact_over_history(
    batches: list[RunBatch],
    revisions: pa.Table,
    script_id: uuid.UUID,
    version: int,
    thresholds: Thresholds,
) -> dict[str, Any]:
    history = MemoryHistory(batches, revisions)
    try:
        rows = revision_samples(
            history, thresholds.window_runs, script_id=script_id, version=version
        )
        if not rows:
            before, after = RevisionSample(version - 1, [], []), RevisionSample(version, [], [])
        else:
            before, after = rows[0].before, rows[0].after
        before = replace(before, step_durations_ms=_passed_steps(history, before.run_ids))
        after = replace(after, step_durations_ms=_passed_steps(history, after.run_ids))
    finally:
        history.close()
    return revision_impact(before, after, thresholds)


def _passed_steps(history: MemoryHistory, run_ids: Sequence[str]) -> dict[str, list[float]]:
    """Durations of the passed steps of some runs, by ``"<action> <locator>"``."""
    steps: dict[str, list[float]] = {}
    if not run_ids:
        return steps
    for action, locator, duration in history.rows(PASSED_STEPS_SQL, {"ids": list(run_ids)}):
        key = f"{action} {locator}" if locator else action
        steps.setdefault(key, []).append(float(duration))
    return steps


PASSED_STEPS_SQL = """
SELECT action, locator, duration_ms FROM steps
WHERE run_id IN (SELECT unnest($ids::UUID[])) AND outcome = 'passed' AND duration_ms IS NOT NULL
"""

# Which runs judge a revision: the last ``window`` decided runs of the version before it and
# the first ``window`` of the revision, per revision accepted from a change set (or the one
# ``$version`` asked for). They come from the ``version_runs`` rollup, which keeps the first and
# the last runs of each script version (a table kept on append in the warehouse, a view of the
# raw runs over an in-memory history); each side is a list of (time, run, status, duration)
# structs, newest first before, oldest first after.
REVISION_SAMPLES_SQL = f"""
WITH accepted AS (
    SELECT script_id, version, changeset_id, created_at AS accepted_at
    FROM revisions
    WHERE ($script::UUID IS NULL OR script_id = $script::UUID)
      AND CASE WHEN $version::INTEGER IS NULL THEN source = 'changeset'
               ELSE version = $version::INTEGER END
),
per_version AS (
    SELECT script_id, script_version,
           {rollups.newest("newest", "$window")} AS newest,
           {rollups.oldest("oldest", "$window")} AS oldest
    FROM version_runs
    WHERE script_id IN (SELECT script_id FROM accepted)
    GROUP BY ALL
)
SELECT a.script_id::VARCHAR AS script_id, a.version, a.changeset_id::VARCHAR AS changeset_id,
       a.accepted_at,
       -- Flat lists out of the aligned structs: far cheaper to hand to Python than structs.
       list_transform(b.newest, x -> x.run::VARCHAR) AS before_runs,
       list_transform(b.newest, x -> x.status) AS before_statuses,
       list_transform(b.newest, x -> x.ms) AS before_ms,
       list_transform(f.oldest, x -> x.run::VARCHAR) AS after_runs,
       list_transform(f.oldest, x -> x.status) AS after_statuses,
       list_transform(f.oldest, x -> x.ms) AS after_ms
FROM accepted a
LEFT JOIN per_version b ON b.script_id = a.script_id AND b.script_version = a.version - 1
LEFT JOIN per_version f ON f.script_id = a.script_id AND f.script_version = a.version
ORDER BY a.accepted_at DESC, a.script_id
"""


@dataclass(frozen=True, slots=True)
class RevisionSamples:
    """One revision and the runs either side of it that judge it."""

    script_id: str
    version: int
    changeset_id: str | None
    accepted_at: Any
    before: RevisionSample
    after: RevisionSample


def revision_samples(
    reader: Any,
    window: int,
    *,
    script_id: uuid.UUID | str | None = None,
    version: int | None = None,
) -> list[RevisionSamples]:
    """``REVISION_SAMPLES_SQL`` over the warehouse or an in-memory history, as samples (a
    window above ``rollups.ROLLUP_WINDOW`` counts as that many runs)."""
    params = {
        "script": str(script_id) if script_id else None,
        "version": version,
        "window": rollups.capped_window(window),
    }
    table = reader.relation(
        REVISION_SAMPLES_SQL, bound_params(REVISION_SAMPLES_SQL, params)
    ).to_arrow_table()
    # Column by column out of Arrow: about half the CPU of fetching 1,500 rows of lists.
    rows = zip(*(column.to_pylist() for column in table.columns), strict=True)
    return [
        RevisionSamples(
            script_id=row[0],
            version=row[1],
            changeset_id=row[2],
            accepted_at=row[3],
            # Before is newest first: reversed, both sides are oldest first.
            before=_sample(row[1] - 1, row[4], row[5], row[6], reverse=True),
            after=_sample(row[1], row[7], row[8], row[9], reverse=False),
        )
        for row in rows
    ]


def _sample(
    version: int,
    runs: list[str] | None,
    statuses: list[str] | None,
    durations: list[int | None] | None,
    *,
    reverse: bool,
) -> RevisionSample:
    step = -1 if reverse else 1
    return RevisionSample(
        version=version,
        run_ids=(runs or [])[::step],
        outcomes=(statuses or [])[::step],
        run_durations_ms=[float(ms) for ms in (durations or [])[::step] if ms is not None],
    )


# The pure comparison, over plain samples: the one computation of "did the fix work", for the
# API, the insights refresh and the dashboard (``queries.fix_impact``) alike.


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
