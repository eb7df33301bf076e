"""Enhance a script into a guarded change set (step 2 of the workflow)."""

from __future__ import annotations

import ast
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scriptflow.changesets.guardrails import classify_diff, risk_of
from scriptflow.changesets.models import ChangesetStatus, ScriptChangeSet
from scriptflow.config import Settings
from scriptflow.db.engine import transaction
from scriptflow.enhance.confidence import changeset_confidence
from scriptflow.enhance.openai_provider import DEFAULT_MODEL, OpenAIProvider
from scriptflow.enhance.proposal import EnhanceOptions, LocatorHints, Proposal, Provider
from scriptflow.enhance.rules import RulesProvider, script_syntax_error
from scriptflow.errors import (
    AIOutputInvalid,
    ValidationFailed,
)
from scriptflow.projects.repository import ProjectRepository
from scriptflow.projects.roles import Role
from scriptflow.scripts.diffing import (
    DiffDoesNotApply,
    apply_diff_async,
    parse_hunks,
    unified_diff_async,
)
from scriptflow.scripts.models import Script
from scriptflow.scripts.service import get_script, require_python, script_filename

# What runs have seen of a script's elements (``scriptflow.wiring.seen_locators``): runs come
# after enhance in the workflow, so the lookup is handed in rather than imported.
SeenLocators = Callable[[AsyncSession, uuid.UUID], Awaitable[LocatorHints]]


@dataclass(frozen=True)
class EnhanceRequest:
    """What the caller asked for."""

    prompt: str | None = None
    provider: str = "rules"
    model: str | None = None
    temperature: float | None = None
    locator_hints: LocatorHints = field(default_factory=dict)


@dataclass(frozen=True)
class NoChanges:
    """The answer when there is nothing to improve: shaped like a change set, never stored."""

    script_id: uuid.UUID
    base_version: int
    provider: str
    prompt: str | None
    ai_model: str | None
    temperature: float | None
    findings: list[dict[str, Any]]
    id: None = None
    proposed_diff: str = ""
    confidence: float = 1.0
    status: str = "no_changes"
    risk: str = "low"
    hunks: list[dict[str, Any]] = field(default_factory=list)
    created_at: datetime | None = None
    proposed_by: uuid.UUID | None = None
    decided_by: uuid.UUID | None = None
    decided_at: datetime | None = None
    decision_reason: str | None = None
    revision_id: uuid.UUID | None = None


def providers_from_settings(settings: Settings) -> dict[str, Provider]:
    """Every provider, configured from settings; chosen per request by name."""
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
    default_model = (
        DEFAULT_MODEL
        if DEFAULT_MODEL in settings.openai_models or not settings.openai_models
        else settings.openai_models[0]
    )
    return {
        "rules": RulesProvider(),
        "openai": OpenAIProvider(
            api_key=key,
            base_url=settings.openai_base_url,
            timeout_s=settings.openai_timeout_s,
            max_retries=settings.openai_max_retries,
            default_model=default_model,
        ),
    }


def check_syntax(content: str) -> None:
    """422 SCRIPT_SYNTAX_ERROR naming the line, for content that is not valid Python."""
    try:
        ast.parse(content)
    except SyntaxError as exc:
        raise script_syntax_error(exc) from exc


async def enhance_script(
    sessionmaker: async_sessionmaker[AsyncSession],
    user_id: uuid.UUID,
    script_id: uuid.UUID,
    request: EnhanceRequest,
    *,
    providers: Mapping[str, Provider],
    allowed_models: list[str],
    max_script_bytes: int,
    seen_locators: SeenLocators | None = None,
) -> ScriptChangeSet | NoChanges:
    """Ask a provider for an improved script; store it as a proposed change set if it differs.

    No transaction is held while the provider works: a model call can take as long as its
    timeout, and holding one meanwhile would keep SQLite's write lock (stalling every other
    writer) or a PostgreSQL connection.
    """
    async with transaction(sessionmaker, write=False) as session:
        script = await get_script(session, user_id, script_id, Role.EDITOR)
        require_python(script, "enhanced")
        draft = await _prepare(session, script, request, providers, allowed_models, seen_locators)
    proposal = await draft.provider.propose(draft.base, draft.options)
    async with transaction(sessionmaker) as session:
        # Still there, and the caller still allowed to propose?
        script = await get_script(session, user_id, script_id, Role.EDITOR)
        return await _store_proposal(
            session, user_id, script, draft, proposal, max_script_bytes=max_script_bytes
        )


@dataclass(frozen=True, slots=True)
class _Draft:
    """What a proposal is asked for: the request, its provider and options, and the base."""

    request: EnhanceRequest
    provider: Provider
    options: EnhanceOptions
    base: str
    base_version: int


async def _prepare(
    session: AsyncSession,
    script: Script,
    request: EnhanceRequest,
    providers: Mapping[str, Provider],
    allowed_models: list[str],
    seen_locators: SeenLocators | None,
) -> _Draft:
    provider = providers.get(request.provider)
    if provider is None:
        raise ValidationFailed.for_field(
            "provider",
            f"one of {sorted(providers)}",
            message=f"Unknown provider {request.provider!r}",
        )
    model = _model_for(request, provider, allowed_models)
    check_syntax(script.content)
    environments = await ProjectRepository(session).environments(script.project_id)
    # What the last run saw of the elements, overridden by what the caller says.
    seen = await seen_locators(session, script.id) if seen_locators else {}
    options = EnhanceOptions(
        prompt=request.prompt,
        model=model,
        temperature=request.temperature,
        base_urls=tuple(env.base_url for env in environments),
        locator_hints={**seen, **request.locator_hints},
        path=script_filename(script),
    )
    return _Draft(request, provider, options, script.content, script.version)


def _model_for(request: EnhanceRequest, provider: Provider, allowed: list[str]) -> str | None:
    if provider.name != "openai":
        return None
    model = request.model or getattr(provider, "default_model", DEFAULT_MODEL)
    if model not in allowed:
        raise ValidationFailed.for_field(
            "model",
            f"one of {allowed}",
            message=f"Model {model!r} is not allowed; allowed models: {', '.join(allowed)}",
        )
    return model


async def _store_proposal(
    session: AsyncSession,
    user_id: uuid.UUID,
    script: Script,
    draft: _Draft,
    proposal: Proposal,
    *,
    max_script_bytes: int,
) -> ScriptChangeSet | NoChanges:
    request, base, base_version = draft.request, draft.base, draft.base_version
    provider_name = draft.provider.name
    findings = [finding.to_dict() for finding in proposal.findings]
    diff = await unified_diff_async(base, proposal.content, script_filename(script))
    if not diff:
        return NoChanges(
            script_id=script.id,
            base_version=base_version,
            provider=provider_name,
            prompt=request.prompt,
            ai_model=proposal.model,
            temperature=request.temperature,
            findings=findings,
        )
    if len(proposal.content.encode()) > max_script_bytes:
        raise AIOutputInvalid(
            "The proposed script is larger than the script size limit; nothing was stored",
            details={"max_bytes": max_script_bytes},
        )
    try:
        applies = await apply_diff_async(base, diff) == proposal.content
    except DiffDoesNotApply:
        applies = False
    if not applies:
        raise AIOutputInvalid("The proposed diff does not apply to the script; nothing was stored")
    reports = classify_diff(diff)
    risk = risk_of(reports)
    changeset = ScriptChangeSet(
        script_id=script.id,
        base_version=base_version,
        proposed_diff=diff,
        proposed_content=proposal.content,
        provider=provider_name,
        ai_model=proposal.model,
        prompt=request.prompt,
        temperature=request.temperature,
        confidence=changeset_confidence(
            proposal.findings, parse_hunks(diff), risk, from_model=provider_name != "rules"
        ),
        findings=findings,
        hunks=[report.to_dict() for report in reports],
        risk=risk,
        status=ChangesetStatus.PROPOSED,
        proposed_by=user_id,
    )
    session.add(changeset)
    await session.flush()
    return changeset
