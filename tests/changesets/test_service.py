"""Change-set decisions as the review notebook takes them: accept, reject, what is left after."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scriptflow.changesets.service import accept_changeset, list_changesets, reject_changeset
from scriptflow.config import Settings
from scriptflow.db.engine import transaction
from scriptflow.enhance.service import EnhanceRequest, NoChanges, enhance_script
from tests.factories import create_script, signup
from tests.support.settings import enhance_service_kwargs

FLAKY = "def test_x(page):\n    page.wait_for_timeout(500)\n    page.click('#go')\n"


async def test_propose_then_accept_then_nothing_left_to_propose(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    owner = await signup(client)
    script = await create_script(client, owner, content=FLAKY)
    user_id, script_id = uuid.UUID(owner.user_id), uuid.UUID(str(script["id"]))
    kwargs = enhance_service_kwargs(settings)
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
        **enhance_service_kwargs(settings),
    )
    assert not isinstance(proposal, NoChanges)
    async with transaction(sessionmaker) as session:
        rejected = await reject_changeset(
            session, user_id, script_id, proposal.id, reason="the wait is for an animation"
        )
    assert rejected.status == "rejected"
    assert rejected.decision_reason == "the wait is for an animation"
    assert str(rejected.decided_by) == owner.user_id
