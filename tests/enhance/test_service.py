"""The enhance service as the notebooks and the demo command call it."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scriptflow.config import Settings
from scriptflow.db.base import utcnow
from scriptflow.db.engine import transaction
from scriptflow.enhance.service import (
    EnhanceRequest,
    NoChanges,
    enhance_script,
)
from scriptflow.runs import models as run_models
from tests.factories import create_script, signup
from tests.support.settings import enhance_service_kwargs


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
        sessionmaker, user_id, script_id, EnhanceRequest(), **enhance_service_kwargs(settings)
    )
    assert not isinstance(proposal, NoChanges)
    assert 'page.get_by_role("button", name="Payer").click()' in proposal.proposed_content
