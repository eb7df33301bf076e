"""AI insights: the seed's per-script list, per-project lists, resolve, revision impact."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response

from app.deps import CurrentUser, SessionDep, SettingsDep, check_ai_rate_limit
from app.pagination import link_next
from app.schemas import MAX_DB_INT, Cursor, Limit
from app.schemas.insights import InsightOut, RevisionImpactOut
from scriptflow.insights import fix_impact, service
from scriptflow.insights.service import InsightFilters
from scriptflow.insights.summary import OpenAISummarizer, Summarizer

router = APIRouter(tags=["insights"])

InsightType = Literal[
    "flaky-test",
    "flaky-selector",
    "slow-step",
    "recurring-failure",
    "environment-specific",
    "brittle-code",
    "fix-regression",
]
TypeFilter = Annotated[InsightType | None, Query()]
SeverityFilter = Annotated[Literal["low", "medium", "high", "critical"] | None, Query()]
StatusFilter = Annotated[Literal["open", "resolved"] | None, Query()]


@router.get("/scripts/{script_id}/insights", response_model=list[InsightOut])
async def list_script_insights(
    script_id: uuid.UUID,
    request: Request,
    response: Response,
    user: CurrentUser,
    session: SessionDep,
    type: TypeFilter = None,
    severity: SeverityFilter = None,
    status: StatusFilter = None,
    limit: Limit = None,
    cursor: Cursor = None,
) -> list[InsightOut]:
    """The script's insights, newest first; each carries its evidence in ``details``."""
    page = await service.list_script_insights(
        session,
        user.id,
        script_id,
        InsightFilters(type=type, severity=severity, status=status),
        cursor=cursor,
        limit=limit,
    )
    link_next(request, response, page.next_cursor)
    return [InsightOut.model_validate(i) for i in page.items]


@router.get("/projects/{project_id}/insights", response_model=list[InsightOut])
async def list_project_insights(
    project_id: uuid.UUID,
    request: Request,
    response: Response,
    user: CurrentUser,
    session: SessionDep,
    type: TypeFilter = None,
    severity: SeverityFilter = None,
    status: StatusFilter = None,
    script_id: uuid.UUID | None = None,
    limit: Limit = None,
    cursor: Cursor = None,
) -> list[InsightOut]:
    """Every insight of a project, newest first (filter by script, type, severity, status)."""
    page = await service.list_project_insights(
        session,
        user.id,
        project_id,
        InsightFilters(type=type, severity=severity, status=status, script_id=script_id),
        cursor=cursor,
        limit=limit,
    )
    link_next(request, response, page.next_cursor)
    return [InsightOut.model_validate(i) for i in page.items]


@router.get("/insights/{insight_id}", response_model=InsightOut)
async def get_insight(insight_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> InsightOut:
    """One insight with its evidence."""
    return InsightOut.model_validate(await service.get_insight(session, user.id, insight_id))


@router.post("/insights/{insight_id}/resolve", response_model=InsightOut)
async def resolve_insight(
    insight_id: uuid.UUID, user: CurrentUser, session: SessionDep
) -> InsightOut:
    """Mark an insight resolved (editor or above); new evidence reopens it."""
    insight = await service.resolve_insight(session, user.id, insight_id)
    return InsightOut.model_validate(insight)


@router.post("/insights/{insight_id}/summary", response_model=InsightOut)
async def summarize_insight(
    insight_id: uuid.UUID,
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
) -> InsightOut:
    """Optional: a plain-language summary from the configured AI provider, kept on the insight."""
    insight = await service.summarize_insight(
        session,
        user.id,
        insight_id,
        MeteredSummarizer(OpenAISummarizer(settings), request, user.id),
    )
    return InsightOut.model_validate(insight)


class MeteredSummarizer:
    """Counts the call against the caller's AI limit only once it is really made: after the
    role check, so a refused viewer spends none of it."""

    def __init__(self, inner: Summarizer, request: Request, user_id: uuid.UUID) -> None:
        self._inner, self._request, self._user_id = inner, request, user_id

    async def summarize(self, insight: dict[str, Any]) -> str:
        await check_ai_rate_limit(self._request, self._user_id)
        return await self._inner.summarize(insight)


@router.get("/scripts/{script_id}/revisions/{version}/impact", response_model=RevisionImpactOut)
async def revision_impact(
    script_id: uuid.UUID,
    version: Annotated[int, Path(ge=1, le=MAX_DB_INT)],
    user: CurrentUser,
    session: SessionDep,
) -> RevisionImpactOut:
    """Did the fix work: pass rate, flip rate and p95 before and after this revision."""
    report = await fix_impact.revision_impact_for(session, user.id, script_id, version)
    return RevisionImpactOut.model_validate(report)
