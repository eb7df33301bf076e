"""Reading insights: list a script's or a project's, read one, resolve it, summarize it.

How they are made lives beside this: ``refresh`` (recompute and upsert), ``subscriptions``
(after a run, after an accept), ``fix_impact`` (did the fix work), ``warehouse_sync``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from scriptflow.db.base import utcnow
from scriptflow.errors import NotFound, ValidationFailed
from scriptflow.insights.findings import INSIGHT_TYPES, SEVERITIES
from scriptflow.insights.models import AIInsight, InsightStatus
from scriptflow.insights.repository import InsightRepository
from scriptflow.insights.summary import Summarizer
from scriptflow.pagination import Page, clamp_limit
from scriptflow.projects.roles import Role
from scriptflow.projects.service import member_project_ids, require_role
from scriptflow.scripts.service import get_script

INSIGHT_STATUSES = tuple(status.value for status in InsightStatus)


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
                raise ValidationFailed.for_field(
                    name,
                    f"one of {list(allowed)}",
                    message=f"{name} must be one of {', '.join(allowed)}",
                )
        return self


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
    repository = InsightRepository(session)
    query = repository.listing(
        project_ids,
        script_id=script_id,
        type=filters.type,
        severity=filters.severity,
        status=filters.status,
    )
    return await repository.paginate(query, cursor=cursor, limit=size)


async def get_insight(
    session: AsyncSession, user_id: uuid.UUID, insight_id: uuid.UUID, minimum: Role = Role.VIEWER
) -> AIInsight:
    """One insight of a project the user belongs to (404 otherwise)."""
    insight = await InsightRepository(session).get(insight_id)
    if insight is None or insight.project_id not in await member_project_ids(session, user_id):
        raise NotFound("insight", insight_id)
    await require_role(session, user_id, insight.project_id, minimum)
    return insight


async def resolve_insight(
    session: AsyncSession, user_id: uuid.UUID, insight_id: uuid.UUID
) -> AIInsight:
    """Mark an insight resolved (editors and up); it reopens if new evidence arrives."""
    insight = await get_insight(session, user_id, insight_id, Role.EDITOR)
    if insight.status != InsightStatus.RESOLVED:
        insight.status = InsightStatus.RESOLVED
        insight.resolved_at = utcnow()
        insight.resolved_by = user_id
        await session.flush()
    return insight


async def summarize_insight(
    session: AsyncSession, user_id: uuid.UUID, insight_id: uuid.UUID, summarizer: Summarizer
) -> AIInsight:
    """Ask the AI provider for a plain-language summary of the evidence and keep it.

    Editors and above only: the summary is stored on the insight and the call is billed.
    """
    insight = await get_insight(session, user_id, insight_id, Role.EDITOR)
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
