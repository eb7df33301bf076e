"""Recompute one script's insights and upsert them by ``(project_id, fingerprint)``.

A refresh reads one script's recent history from the SQL database (the source of truth), runs
the same analysis SQL as the warehouse on an in-memory DuckDB, adds the rules engine's static
findings on the current version and the did-the-fix-work report of the latest accepted change
set. Services never commit.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from scriptflow.db.base import utcnow
from scriptflow.enhance.proposal import EnhanceOptions
from scriptflow.enhance.rules import enhance_with_rules
from scriptflow.errors import NotFound
from scriptflow.insights.analysis import DEFAULT_LOOKBACK_DAYS, compute_findings
from scriptflow.insights.extract import RunBatch, extract_runs
from scriptflow.insights.findings import Finding
from scriptflow.insights.fix_impact import fix_regression_findings, impact_report, thresholds_of
from scriptflow.insights.memory_history import MemoryHistory
from scriptflow.insights.models import AIInsight, InsightStatus
from scriptflow.insights.repository import HistoryRepository, InsightRepository
from scriptflow.insights.rules import brittle_code_findings
from scriptflow.insights.thresholds import Thresholds
from scriptflow.scripts.models import Script
from scriptflow.scripts.repository import ScriptRepository

log = logging.getLogger("scriptflow.insights")


@dataclass(slots=True)
class RefreshResult:
    """What one refresh changed."""

    created: list[AIInsight] = field(default_factory=list)
    updated: list[AIInsight] = field(default_factory=list)
    unchanged: list[AIInsight] = field(default_factory=list)

    @property
    def current(self) -> list[AIInsight]:
        """Every insight the refresh found (new, changed or not)."""
        return [*self.created, *self.updated, *self.unchanged]


async def refresh_script_insights(
    session: AsyncSession,
    script_id: uuid.UUID,
    *,
    now: datetime | None = None,
    lookback_days: int = DEFAULT_LOOKBACK_DAYS,
) -> RefreshResult:
    """Recompute every finding of one script and upsert them by fingerprint."""
    now = now or utcnow()
    script = await ScriptRepository(session).get(script_id)
    if script is None:
        raise NotFound("script", script_id)
    thresholds = await thresholds_of(session, script)
    since = now - timedelta(days=lookback_days)
    batches = await session.run_sync(
        lambda sync: list(extract_runs(sync, script_id=script_id, created_since=since))
    )
    findings = await asyncio.to_thread(
        _history_findings, batches, thresholds, script_id, now, lookback_days
    )
    findings += await asyncio.to_thread(_static_findings, script, thresholds)
    findings += await _fix_regression(session, script, thresholds)
    return await upsert_findings(session, findings, now=now)


def _history_findings(
    batches: list[RunBatch],
    thresholds: Thresholds,
    script_id: uuid.UUID,
    now: datetime,
    lookback_days: int,
) -> list[Finding]:
    if not batches:
        return []
    history = MemoryHistory(batches)
    try:
        return compute_findings(
            history, thresholds, script_id=script_id, now=now, lookback_days=lookback_days
        )
    finally:
        history.close()


def _static_findings(script: Script, thresholds: Thresholds) -> list[Finding]:
    """brittle-code from the rules engine (scriptflow.enhance); nothing if it cannot run."""
    try:
        proposal = enhance_with_rules(script.content, EnhanceOptions())
    except SyntaxError:
        return []
    except Exception:  # the rules engine is another domain: never fail a refresh on it
        log.exception("static findings failed for script %s", script.id)
        return []
    static = [finding.to_dict() for finding in proposal.findings]
    return brittle_code_findings(
        str(script.project_id), str(script.id), script.version, static, thresholds
    )


async def _fix_regression(
    session: AsyncSession, script: Script, thresholds: Thresholds
) -> list[Finding]:
    revision = await HistoryRepository(session).latest_changeset_revision(script.id)
    if revision is None:
        return []
    report = await impact_report(session, script, revision, thresholds)
    return fix_regression_findings(
        str(script.project_id),
        str(script.id),
        str(revision.changeset_id) if revision.changeset_id else None,
        report,
    )


async def upsert_findings(
    session: AsyncSession, findings: Sequence[Finding], *, now: datetime | None = None
) -> RefreshResult:
    """Insert new findings; update known ones in place (last_seen, occurrences on new evidence)."""
    now = now or utcnow()
    result = RefreshResult()
    repository = InsightRepository(session)
    by_project: dict[str, list[Finding]] = {}
    for finding in findings:
        by_project.setdefault(finding.project_id, []).append(finding)
    for project_id, items in by_project.items():
        project = uuid.UUID(project_id)
        existing = await repository.by_fingerprints(project, [f.fingerprint for f in items])
        for finding in items:
            insight = existing.get(finding.fingerprint)
            if insight is None:
                fresh = _new_insight(finding, now)
                if await repository.insert_unless_taken(fresh):
                    result.created.append(fresh)
                    continue
                insight = await repository.by_fingerprint(project, finding.fingerprint)
            if _apply(insight, finding, now):
                result.updated.append(insight)
            else:
                result.unchanged.append(insight)
    await session.flush()
    return result


def _new_insight(finding: Finding, now: datetime) -> AIInsight:
    return AIInsight(
        project_id=uuid.UUID(finding.project_id),
        script_id=uuid.UUID(finding.script_id) if finding.script_id else None,
        type=finding.type,
        severity=finding.severity,
        summary=finding.summary,
        details=finding.details,
        fingerprint=finding.fingerprint,
        status=InsightStatus.OPEN,
        occurrences=1,
        first_seen=now,
        last_seen=now,
    )


def _apply(insight: AIInsight, finding: Finding, now: datetime) -> bool:
    """Update in place; True when the evidence changed (which counts as a new occurrence)."""
    insight.last_seen = now
    if insight.details == finding.details and insight.severity == finding.severity:
        return False
    if _new_evidence(insight.details, finding.details):
        insight.occurrences += 1
        if insight.status == InsightStatus.RESOLVED:
            # It came back after being resolved: reopen, with the new evidence.
            insight.status = InsightStatus.OPEN
            insight.resolved_at = None
            insight.resolved_by = None
            insight.resolved_reason = None
    insight.severity = finding.severity
    insight.summary = finding.summary
    insight.details = finding.details
    return True


def _new_evidence(old: dict[str, Any], new: dict[str, Any]) -> bool:
    old_runs, new_runs = set(old.get("run_ids") or ()), set(new.get("run_ids") or ())
    if new_runs or old_runs:
        return bool(new_runs - old_runs)
    return old != new
