"""`scriptflow demo` preparation: the demo workspace is created once and reused after."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.demo.seeding import (
    DEFAULT_EMAIL,
    DEFAULT_PASSWORD,
    DEMO_SCRIPTS,
    planned_runs,
    prepare_workspace,
)
from scriptflow.config import Settings
from scriptflow.db.engine import transaction
from scriptflow.errors import Unauthorized
from scriptflow.projects.service import list_environments


async def test_a_second_start_reuses_the_demo_workspace_and_follows_the_demo_app(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    first = await prepare_workspace(
        settings,
        email=DEFAULT_EMAIL,
        password=DEFAULT_PASSWORD,
        demo_base_url="http://127.0.0.1:9001",
    )
    assert len(first.script_ids) == len(DEMO_SCRIPTS)
    assert first.finished_runs == 0 and planned_runs(first) > 0
    again = await prepare_workspace(
        settings,
        email=DEFAULT_EMAIL,
        password=DEFAULT_PASSWORD,
        demo_base_url="http://127.0.0.1:9002",
    )
    assert (again.user_id, again.project_id, again.script_ids) == (
        first.user_id,
        first.project_id,
        first.script_ids,
    )
    async with transaction(sessionmaker, write=False) as session:
        (environment,) = await list_environments(session, again.user_id, again.project_id)
    assert environment.base_url == "http://127.0.0.1:9002"


async def test_the_demo_never_takes_over_an_account_it_cannot_sign_in_to(
    settings: Settings,
) -> None:
    await prepare_workspace(
        settings,
        email="lead@example.com",
        password="lead-password-1",
        demo_base_url="http://127.0.0.1:9",
    )
    with pytest.raises(Unauthorized):
        await prepare_workspace(
            settings,
            email="lead@example.com",
            password="guess-guess",
            demo_base_url="http://127.0.0.1:9",
        )
