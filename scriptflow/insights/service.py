"""Insight use cases: refresh after a run, list, resolve, revision impact, warehouse sync.

A refresh reads one script's recent history from the SQL database (the source of truth), runs
the same analysis SQL as the warehouse on an in-memory DuckDB, adds the rules engine's static
findings on the current version and the did-the-fix-work report of the latest accepted change
set, and upserts every finding by ``(project_id, fingerprint)``. Services never commit.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from scriptflow.config import Settings, get_settings
from scriptflow.db.base import utcnow
from scriptflow.db.engine import transaction
from scriptflow.errors import NotFound, ScriptflowError, ValidationFailed
from scriptflow.insights.analysis import DEFAULT_LOOKBACK_DAYS, MemoryHistory, compute_findings
from scriptflow.insights.extract import (
    FINISHED_STATUSES,
    RunBatch,
    extract_revisions,
    extract_runs,
)
from scriptflow.insights.models import AIInsight
from scriptflow.insights.rules import (
    INSIGHT_TYPES,
    SEVERITIES,
    Finding,
    RevisionSample,
    brittle_code_findings,
    fix_regression_findings,
    revision_impact,
)
from scriptflow.insights.summary import Summarizer
from scriptflow.insights.thresholds import Thresholds
from scriptflow.insights.warehouse import (
    INSIGHTS_SCHEMA,
    ScopedReader,
    SyncResult,
    Warehouse,
    WarehouseBusy,
)
from scriptflow.pagination import Page, clamp_limit, keyset, page_of
from scriptflow.projects.models import Project
from scriptflow.projects.roles import Role
from scriptflow.projects.service import member_project_ids, require_role
from scriptflow.runs.hooks import RunFinished, register_run_finished
from scriptflow.runs.models import RunStep, TestRun
from scriptflow.scripts.models import Script, ScriptRevision
from scriptflow.scripts.service import get_script

log = logging.getLogger("scriptflow.insights")

INSIGHT_STATUSES = ("open", "resolved")
FLAKY_TYPES = frozenset({"flaky-test", "flaky-selector"})


@dataclass(frozen=True, slots=True)
class InsightFilters:
    """Optional filters of an insight listing."""

    type: str | None = None
    severity: str | None = None
    status: str | None = None
    script_id: uuid.UUID | None = None

    def validate(self) -> InsightFilters:
        """422 on a value that can never match, instead of a silently empty list."""
        for name, value, allowed in (
            ("type", self.type, INSIGHT_TYPES),
            ("severity", self.severity, SEVERITIES),
            ("status", self.status, INSIGHT_STATUSES),
        ):
            if value is not None and value not in allowed:
                raise ValidationFailed(
                    f"{name} must be one of {', '.join(allowed)}",
                    details={"fields": [{"field": name, "message": f"one of {list(allowed)}"}]},
                )
        return self


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


# ---------------------------------------------------------------------------------------------
# Refresh.


async def refresh_script_insights(
    session: AsyncSession,
    script_id: uuid.UUID,
    *,
    now: datetime | None = None,
    lookback_days: int = DEFAULT_LOOKBACK_DAYS,
) -> RefreshResult:
    """Recompute every finding of one script and upsert them by fingerprint."""
    now = now or utcnow()
    script = await session.get(Script, script_id)
    if script is None:
        raise NotFound("script", script_id)
    project = await session.get(Project, script.project_id)
    thresholds = Thresholds.from_project_settings(project.settings if project else None)
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
        from scriptflow.enhance.proposal import EnhanceOptions
        from scriptflow.enhance.rules import enhance_with_rules

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
    revision = (
        await session.execute(
            select(ScriptRevision)
            .where(ScriptRevision.script_id == script.id, ScriptRevision.source == "changeset")
            .order_by(ScriptRevision.version.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    if revision is None:
        return []
    report = await _impact_report(session, script, revision, thresholds)
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
    by_project: dict[str, list[Finding]] = {}
    for finding in findings:
        by_project.setdefault(finding.project_id, []).append(finding)
    for project_id, items in by_project.items():
        existing = {
            insight.fingerprint: insight
            for insight in (
                await session.execute(
                    select(AIInsight).where(
                        AIInsight.project_id == uuid.UUID(project_id),
                        AIInsight.fingerprint.in_([f.fingerprint for f in items]),
                    )
                )
            ).scalars()
        }
        for finding in items:
            insight = existing.get(finding.fingerprint)
            if insight is None:
                insight = await _insert(session, finding, now)
                if insight is not None:
                    result.created.append(insight)
                    continue
                insight = (
                    await session.execute(
                        select(AIInsight).where(
                            AIInsight.project_id == uuid.UUID(project_id),
                            AIInsight.fingerprint == finding.fingerprint,
                        )
                    )
                ).scalar_one()
            if _apply(insight, finding, now):
                result.updated.append(insight)
            else:
                result.unchanged.append(insight)
    await session.flush()
    return result


async def _insert(session: AsyncSession, finding: Finding, now: datetime) -> AIInsight | None:
    """Insert in a savepoint; None when a concurrent refresh inserted the same fingerprint."""
    insight = AIInsight(
        project_id=uuid.UUID(finding.project_id),
        script_id=uuid.UUID(finding.script_id) if finding.script_id else None,
        type=finding.type,
        severity=finding.severity,
        summary=finding.summary,
        details=finding.details,
        fingerprint=finding.fingerprint,
        status="open",
        occurrences=1,
        first_seen=now,
        last_seen=now,
    )
    try:
        async with session.begin_nested():
            session.add(insight)
            await session.flush()
    except IntegrityError:
        return None
    return insight


def _apply(insight: AIInsight, finding: Finding, now: datetime) -> bool:
    """Update in place; True when the evidence changed (which counts as a new occurrence)."""
    insight.last_seen = now
    if insight.details == finding.details and insight.severity == finding.severity:
        return False
    if _new_evidence(insight.details, finding.details):
        insight.occurrences += 1
        if insight.status == "resolved":
            # It came back after being resolved: reopen, with the new evidence.
            insight.status = "open"
            insight.resolved_at = None
            insight.resolved_by = None
    insight.severity = finding.severity
    insight.summary = finding.summary
    insight.details = finding.details
    return True


def _new_evidence(old: dict[str, Any], new: dict[str, Any]) -> bool:
    old_runs, new_runs = set(old.get("run_ids") or ()), set(new.get("run_ids") or ())
    if new_runs or old_runs:
        return bool(new_runs - old_runs)
    return old != new


# ---------------------------------------------------------------------------------------------
# After a run: refresh, confirmation reruns, warehouse sync.

# Weak keys: a sessionmaker that is gone (a finished test, a stopped app) drops its settings.
_bound_settings: weakref.WeakKeyDictionary[async_sessionmaker[AsyncSession], Settings] = (
    weakref.WeakKeyDictionary()
)


# The same, by engine: a request's session (an accept) knows its engine, not its sessionmaker.
_bound_engines: weakref.WeakKeyDictionary[AsyncEngine, Settings] = weakref.WeakKeyDictionary()


def bind_settings(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> None:
    """Tell the run-finished hook which settings go with a sessionmaker (data dir, run limits)."""
    _bound_settings[sessionmaker] = settings
    engine = sessionmaker.kw.get("bind")
    if isinstance(engine, AsyncEngine):
        _bound_engines[engine] = settings


def _settings_for(sessionmaker: async_sessionmaker[AsyncSession]) -> tuple[Settings, bool]:
    bound = _bound_settings.get(sessionmaker)
    return (bound, True) if bound is not None else (get_settings(), False)


@register_run_finished
async def refresh_after_run(
    sessionmaker: async_sessionmaker[AsyncSession], event: RunFinished
) -> None:
    """The run-finished hook: refresh the script's insights, confirm new flaky suspicions."""
    if event.status == "cancelled":
        return
    settings, bound = _settings_for(sessionmaker)
    async with transaction(sessionmaker) as session:
        result = await refresh_script_insights(session, event.script_id)
        if event.trigger != "confirmation":
            await queue_confirmation_reruns(session, settings, event.run_id, result.created)
    if bound:
        try:
            async with transaction(sessionmaker, write=False) as session:
                warehouse = warehouse_for(settings.data_dir)
                await sync_runs(session, warehouse, [event.run_id])
                # The refresh may have changed insights, and the run may follow an accept.
                await sync_script_state(session, warehouse, event.script_id)
        except WarehouseBusy:
            log.info("warehouse busy; run %s will be synced by the next catch-up", event.run_id)


async def revision_accepted(session: AsyncSession, script_id: uuid.UUID) -> None:
    """Show an accepted revision in this process's warehouse at once (best-effort).

    Runs inside the accept's transaction, so it sees the new revision. Should that transaction
    then fail, the next sync of the script replaces the script's revisions again.
    """
    settings = _bound_engines.get(session.bind) if isinstance(session.bind, AsyncEngine) else None
    if settings is None:  # not a served app (a script, a test without one): catch_up does it
        return
    try:
        await sync_script_state(session, warehouse_for(settings.data_dir), script_id)
    except WarehouseBusy:
        log.info("warehouse busy; script %s will be synced by the next catch-up", script_id)
    except Exception:  # the warehouse is a copy: never fail an accept on it
        log.exception("warehouse sync after accepting on script %s failed", script_id)


async def queue_confirmation_reruns(
    session: AsyncSession,
    settings: Settings,
    run_id: uuid.UUID,
    new_insights: Sequence[AIInsight],
) -> list[uuid.UUID]:
    """Queue N isolated reruns of the run's version and environment for a new flaky suspicion."""
    suspicious = [insight for insight in new_insights if insight.type in FLAKY_TYPES]
    if not suspicious:
        return []
    project = await session.get(Project, suspicious[0].project_id)
    reruns = Thresholds.from_project_settings(project.settings if project else None)
    if reruns.confirmation_reruns <= 0:
        return []
    run = await session.get(TestRun, run_id)
    if run is None or run.created_by is None:
        return []
    try:
        from scriptflow.runs.service import create_run
    except ImportError:  # runs not available in this build: confirmation stays off
        return []
    queued = []
    try:
        # A savepoint: if the reruns cannot be queued (the user lost access, the environment
        # is gone), the refreshed insights are still kept.
        async with session.begin_nested():
            for _ in range(reruns.confirmation_reruns):
                rerun = await create_run(
                    session,
                    run.created_by,
                    settings,
                    script_id=run.script_id,
                    environment=run.environment,
                    browser=run.browser,
                    retries=0,
                    version=run.script_version,
                    trigger="confirmation",
                )
                queued.append(rerun.id)
    except ScriptflowError as error:
        log.warning("confirmation reruns for run %s not queued: %s", run_id, error.message)
        return []
    for insight in suspicious:
        insight.details = {
            **insight.details,
            "confirmation": {
                "status": "pending",
                "requested": reruns.confirmation_reruns,
                "reruns": 0,
                "run_ids": [str(ident) for ident in queued],
            },
        }
    await session.flush()
    return queued


# ---------------------------------------------------------------------------------------------
# Reading.


async def list_script_insights(
    session: AsyncSession,
    user_id: uuid.UUID,
    script_id: uuid.UUID,
    filters: InsightFilters,
    *,
    cursor: str | None = None,
    limit: int | None = None,
) -> Page[AIInsight]:
    """A script's insights, newest first (404 for scripts the user cannot see)."""
    script = await get_script(session, user_id, script_id)
    return await _page(session, [script.project_id], filters, script_id, cursor, limit)


async def list_project_insights(
    session: AsyncSession,
    user_id: uuid.UUID,
    project_id: uuid.UUID,
    filters: InsightFilters,
    *,
    cursor: str | None = None,
    limit: int | None = None,
) -> Page[AIInsight]:
    """A project's insights, newest first (404 for projects the user is not a member of)."""
    await require_role(session, user_id, project_id, Role.VIEWER)
    return await _page(session, [project_id], filters, filters.script_id, cursor, limit)


async def _page(
    session: AsyncSession,
    project_ids: list[uuid.UUID],
    filters: InsightFilters,
    script_id: uuid.UUID | None,
    cursor: str | None,
    limit: int | None,
) -> Page[AIInsight]:
    filters.validate()
    size = clamp_limit(limit)
    query = select(AIInsight).where(AIInsight.project_id.in_(project_ids))
    if script_id is not None:
        query = query.where(AIInsight.script_id == script_id)
    if filters.type:
        query = query.where(AIInsight.type == filters.type)
    if filters.severity:
        query = query.where(AIInsight.severity == filters.severity)
    if filters.status:
        query = query.where(AIInsight.status == filters.status)
    rows = list((await session.execute(keyset(query, AIInsight, cursor, size))).scalars())
    return page_of(rows, size)


async def get_insight(
    session: AsyncSession, user_id: uuid.UUID, insight_id: uuid.UUID, minimum: Role = Role.VIEWER
) -> AIInsight:
    """One insight of a project the user belongs to (404 otherwise)."""
    insight = await session.get(AIInsight, insight_id)
    if insight is None or insight.project_id not in await member_project_ids(session, user_id):
        raise NotFound("insight", insight_id)
    await require_role(session, user_id, insight.project_id, minimum)
    return insight


async def resolve_insight(
    session: AsyncSession, user_id: uuid.UUID, insight_id: uuid.UUID
) -> AIInsight:
    """Mark an insight resolved (editors and up); it reopens if new evidence arrives."""
    insight = await get_insight(session, user_id, insight_id, Role.EDITOR)
    if insight.status != "resolved":
        insight.status = "resolved"
        insight.resolved_at = utcnow()
        insight.resolved_by = user_id
        await session.flush()
    return insight


async def summarize_insight(
    session: AsyncSession, user_id: uuid.UUID, insight_id: uuid.UUID, summarizer: Summarizer
) -> AIInsight:
    """Ask the AI provider for a plain-language summary of the evidence and keep it."""
    insight = await get_insight(session, user_id, insight_id)
    insight.ai_summary = await summarizer.summarize(
        {
            "type": insight.type,
            "severity": insight.severity,
            "summary": insight.summary,
            "details": insight.details,
            "occurrences": insight.occurrences,
            "first_seen": insight.first_seen.isoformat(),
            "last_seen": insight.last_seen.isoformat(),
        }
    )
    await session.flush()
    return insight


# ---------------------------------------------------------------------------------------------
# Did the fix work.


async def revision_impact_for(
    session: AsyncSession, user_id: uuid.UUID, script_id: uuid.UUID, version: int
) -> dict[str, Any]:
    """Before/after report of one revision of a script (404 for an unknown version)."""
    script = await get_script(session, user_id, script_id)
    revision = (
        await session.execute(
            select(ScriptRevision).where(
                ScriptRevision.script_id == script.id, ScriptRevision.version == version
            )
        )
    ).scalar_one_or_none()
    if revision is None:
        raise NotFound("revision", version)
    project = await session.get(Project, script.project_id)
    thresholds = Thresholds.from_project_settings(project.settings if project else None)
    report = await _impact_report(session, script, revision, thresholds)
    return {
        "script_id": str(script.id),
        "version": revision.version,
        "source": revision.source,
        "changeset_id": str(revision.changeset_id) if revision.changeset_id else None,
        "accepted_at": revision.created_at.isoformat(),
        "window_runs": thresholds.window_runs,
        **report,
    }


async def _impact_report(
    session: AsyncSession, script: Script, revision: ScriptRevision, thresholds: Thresholds
) -> dict[str, Any]:
    before = await _revision_sample(
        session, script.id, revision.version - 1, thresholds.window_runs, newest=True
    )
    after = await _revision_sample(
        session, script.id, revision.version, thresholds.window_runs, newest=False
    )
    return revision_impact(before, after, thresholds)


async def _revision_sample(
    session: AsyncSession, script_id: uuid.UUID, version: int, window: int, *, newest: bool
) -> RevisionSample:
    """The last (before) or first (after) ``window`` decided runs of one version."""
    order = TestRun.created_at.desc() if newest else TestRun.created_at.asc()
    runs = list(
        (
            await session.execute(
                select(TestRun.id, TestRun.status, TestRun.started_at, TestRun.completed_at)
                .where(
                    TestRun.script_id == script_id,
                    TestRun.script_version == version,
                    TestRun.status.in_(("passed", "failed")),
                )
                .order_by(order, TestRun.id)
                .limit(window)
            )
        ).all()
    )
    if newest:
        runs.reverse()
    ids = [run.id for run in runs]
    steps: dict[str, list[float]] = {}
    if ids:
        rows = await session.execute(
            select(RunStep.action, RunStep.locator, RunStep.duration_ms).where(
                RunStep.run_id.in_(ids), RunStep.outcome == "passed"
            )
        )
        for action, locator, duration in rows:
            key = f"{action} {locator}" if locator else action
            steps.setdefault(key, []).append(float(duration))
    return RevisionSample(
        version=version,
        run_ids=[str(ident) for ident in ids],
        outcomes=[run.status for run in runs],
        run_durations_ms=[
            (run.completed_at - run.started_at).total_seconds() * 1000
            for run in runs
            if run.started_at and run.completed_at
        ],
        step_durations_ms=steps,
    )


# ---------------------------------------------------------------------------------------------
# The warehouse.

_warehouses: dict[Path, Warehouse] = {}
_warehouses_lock = threading.Lock()


def warehouse_for(data_dir: Path) -> Warehouse:
    """This process's owner of the data dir's warehouse (opened lazily)."""
    key = data_dir.resolve()
    with _warehouses_lock:
        if key not in _warehouses:
            _warehouses[key] = Warehouse.for_data_dir(key)
        return _warehouses[key]


def close_warehouses() -> None:
    """Release every warehouse file this process holds (shutdown, tests)."""
    with _warehouses_lock:
        for warehouse in _warehouses.values():
            warehouse.close()
        _warehouses.clear()


async def sync_runs(
    session: AsyncSession, warehouse: Warehouse, run_ids: Sequence[uuid.UUID]
) -> SyncResult:
    """Append finished runs to the warehouse (idempotent)."""
    batches = await session.run_sync(lambda sync: list(extract_runs(sync, run_ids=run_ids)))
    totals = [0, 0, 0]
    for batch in batches:
        done = await asyncio.to_thread(warehouse.append, batch)
        totals = [totals[0] + done.runs, totals[1] + done.tests, totals[2] + done.steps]
    return SyncResult(*totals)


CATCH_UP_PAGE_RUNS = 2_000


async def catch_up(session: AsyncSession, warehouse: Warehouse) -> SyncResult:
    """Append whatever finished since the warehouse's watermark and is missing from it.

    Only run ids are read first; the rows of the missing runs follow in bounded pages, each
    appended from a thread. A very large first load is better done with ``analytics rebuild``.
    """
    watermark = await asyncio.to_thread(warehouse.latest_completed_at)
    query = select(TestRun.id).where(TestRun.status.in_(FINISHED_STATUSES))
    if watermark is not None:
        # Runs finish out of order across workers: look back a day before the watermark.
        query = query.where(
            TestRun.completed_at >= watermark.replace(tzinfo=UTC) - timedelta(days=1)
        )
    candidates = [str(run_id) for run_id in (await session.execute(query)).scalars()]
    known = await asyncio.to_thread(warehouse.known_run_ids, candidates)
    missing = [uuid.UUID(run_id) for run_id in candidates if run_id not in known]
    totals = SyncResult(0, 0, 0)
    for start in range(0, len(missing), CATCH_UP_PAGE_RUNS):
        page = await sync_runs(session, warehouse, missing[start : start + CATCH_UP_PAGE_RUNS])
        totals = SyncResult(
            totals.runs + page.runs, totals.tests + page.tests, totals.steps + page.steps
        )
    revisions = await session.run_sync(lambda sync: extract_revisions(sync))
    await asyncio.to_thread(warehouse.replace_revisions, revisions, None)
    await _mirror_insights(session, warehouse)
    return totals


async def sync_script_state(
    session: AsyncSession, warehouse: Warehouse, script_id: uuid.UUID
) -> None:
    """Replace one script's revisions and its project's insights in the warehouse."""
    script = await session.get(Script, script_id)
    if script is None:
        return
    revisions = await session.run_sync(lambda sync: extract_revisions(sync, script_id=script_id))
    await asyncio.to_thread(warehouse.replace_revisions, revisions, [str(script_id)])
    await _mirror_insights(session, warehouse, script.project_id)


async def _mirror_insights(
    session: AsyncSession, warehouse: Warehouse, project_id: uuid.UUID | None = None
) -> None:
    query = select(AIInsight)
    if project_id is not None:
        query = query.where(AIInsight.project_id == project_id)
    rows = (await session.execute(query)).scalars().all()
    table = pa.Table.from_pylist(
        [
            {
                "id": str(row.id),
                "project_id": str(row.project_id),
                "script_id": str(row.script_id) if row.script_id else None,
                "type": row.type,
                "severity": row.severity,
                "status": row.status,
                "fingerprint": row.fingerprint,
                "occurrences": row.occurrences,
                "summary": row.summary,
                "first_seen": row.first_seen.astimezone(UTC).replace(tzinfo=None),
                "last_seen": row.last_seen.astimezone(UTC).replace(tzinfo=None),
            }
            for row in rows
        ],
        schema=INSIGHTS_SCHEMA,
    )
    # A project whose last insight went away must still be cleared: name it even with no rows.
    project_ids = sorted(
        {str(row.project_id) for row in rows} | ({str(project_id)} if project_id else set())
    )
    await asyncio.to_thread(warehouse.replace_insights, table, project_ids)


async def open_analytics(
    session: AsyncSession, user_id: uuid.UUID, settings: Settings
) -> ScopedReader:
    """A read-only warehouse reader over the user's projects, caught up with the database first.

    Queries on it block: call them from a thread (``asyncio.to_thread``) in async code.
    """
    warehouse = warehouse_for(settings.data_dir)
    await catch_up(session, warehouse)
    project_ids = await member_project_ids(session, user_id)
    return warehouse.reader(project_ids)


def rebuild_warehouse(sync_database_url: str, data_dir: Path) -> SyncResult:
    """Recreate the warehouse from the SQL database (``scriptflow analytics rebuild``)."""
    from sqlalchemy import create_engine

    engine = create_engine(sync_database_url)
    try:
        with engine.connect() as connection:
            revisions = extract_revisions(connection)
            warehouse = Warehouse.for_data_dir(data_dir)
            return warehouse.rebuild(extract_runs(connection), revisions)
    finally:
        engine.dispose()
