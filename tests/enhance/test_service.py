"""The enhance service as the notebooks and the demo command call it, with the decisions after."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scriptflow.changesets.service import accept_changeset, list_changesets, reject_changeset
from scriptflow.config import Settings
from scriptflow.db.base import utcnow
from scriptflow.db.engine import transaction
from scriptflow.enhance.service import (
    EnhanceRequest,
    NoChanges,
    enhance_script,
    providers_from_settings,
)
from scriptflow.runs import models as run_models
from scriptflow.wiring import seen_locators
from tests.factories import create_script, signup

FLAKY = "def test_x(page):\n    page.wait_for_timeout(500)\n    page.click('#go')\n"


def service_settings(settings: Settings) -> dict[str, Any]:
    """The providers and limits the API hands the enhance service, from the same settings."""
    return {
        "providers": providers_from_settings(settings),
        "allowed_models": settings.openai_models,
        "max_script_bytes": settings.max_script_bytes,
        "seen_locators": seen_locators,
    }


async def test_propose_then_accept_then_nothing_left_to_propose(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    owner = await signup(client)
    script = await create_script(client, owner, content=FLAKY)
    user_id, script_id = uuid.UUID(owner.user_id), uuid.UUID(str(script["id"]))
    kwargs = service_settings(settings)
    proposal = await enhance_script(sessionmaker, user_id, script_id, EnhanceRequest(), **kwargs)
    assert not isinstance(proposal, NoChanges) and proposal.status == "proposed"
    async with transaction(sessionmaker) as session:
        revision = await accept_changeset(session, user_id, script_id, proposal.id)
    assert (
        revision.version == 2
        and revision.content == "def test_x(page):\n    page.locator('#go').click()\n"
    )
    again = await enhance_script(sessionmaker, user_id, script_id, EnhanceRequest(), **kwargs)
    async with transaction(sessionmaker) as session:
        page = await list_changesets(session, user_id, script_id, status="accepted")
    assert isinstance(again, NoChanges)
    assert [c.id for c in page.items] == [proposal.id]


async def test_reject_keeps_the_reason(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    owner = await signup(client)
    script = await create_script(client, owner, content=FLAKY)
    user_id, script_id = uuid.UUID(owner.user_id), uuid.UUID(str(script["id"]))
    proposal = await enhance_script(
        sessionmaker,
        user_id,
        script_id,
        EnhanceRequest(prompt="waits"),
        **service_settings(settings),
    )
    assert not isinstance(proposal, NoChanges)
    async with transaction(sessionmaker) as session:
        rejected = await reject_changeset(
            session, user_id, script_id, proposal.id, reason="the wait is for an animation"
        )
    assert rejected.status == "rejected"
    assert rejected.decision_reason == "the wait is for an animation"
    assert str(rejected.decided_by) == owner.user_id


async def test_hints_from_the_last_finished_run_replace_brittle_selectors(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    owner = await signup(client)
    content = 'def test_x(page):\n    page.locator(".css-1x2y3z").click()\n'
    script = await create_script(client, owner, content=content)
    user_id, script_id = uuid.UUID(owner.user_id), uuid.UUID(str(script["id"]))
    async with transaction(sessionmaker) as session:
        session.add(
            run_models.TestRun(
                project_id=uuid.UUID(owner.project_id),
                script_id=script_id,
                script_version=1,
                environment="staging",
                base_url="http://127.0.0.1:9",
                browser="chromium",
                status="passed",
                completed_at=utcnow(),
                results={"locator_hints": {".css-1x2y3z": {"role": "button", "name": "Payer"}}},
            )
        )
    proposal = await enhance_script(
        sessionmaker, user_id, script_id, EnhanceRequest(), **service_settings(settings)
    )
    assert not isinstance(proposal, NoChanges)
    assert 'page.get_by_role("button", name="Payer").click()' in proposal.proposed_content
