"""A seeded workspace for notebook and browser tests: a user, scripts, a change set, history."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from scriptflow.config import Settings
from scriptflow.db import migrate
from scriptflow.db.engine import create_engine, create_sessionmaker, transaction
from scriptflow.enhance.service import EnhanceRequest, enhance_script, providers_from_settings
from scriptflow.insights.refresh import refresh_script_insights
from scriptflow.insights.warehouse_sync import rebuild_warehouse
from scriptflow.projects.accounts import register
from scriptflow.projects.service import create_environment, member_project_ids
from scriptflow.runs.models import RunArtifact, RunStep, RunTest, TestRun
from scriptflow.scripts.service import create_script

PASSWORD = "correct horse battery staple"
HARD_WAIT_SCRIPT = """from playwright.sync_api import Page


def test_login(page: Page) -> None:
    page.goto("/login")
    page.wait_for_timeout(2000)
    page.fill("#username", "demo")
    page.fill("#password", "demo")
    page.click("#login")
    assert page.is_visible("text=Welcome")
"""
STABLE_SCRIPT = """from playwright.sync_api import Page, expect


def test_home(page: Page) -> None:
    page.goto("/")
    expect(page.get_by_role("heading")).to_be_visible()
"""

# Three changes a line or two apart: one hunk of the unified diff, three review hunks.
CHECKOUT_SCRIPT = """from playwright.sync_api import Page, expect


def test_checkout(page: Page) -> None:
    page.goto("/shop")
    page.wait_for_timeout(1000)
    expect(page.get_by_role("heading", name="Shop")).to_be_visible()
    expect(page.get_by_role("link", name="Cart")).to_be_visible()
    page.click("#add-to-cart")
    expect(page.get_by_role("status")).to_have_text("1 item")
    expect(page.get_by_role("link", name="Cart")).to_be_visible()
    assert page.is_visible("text=Thanks")
"""


@dataclass(frozen=True)
class Workspace:
    email: str
    password: str
    user_id: uuid.UUID
    project_id: uuid.UUID
    script_id: uuid.UUID
    changeset_id: uuid.UUID
    checkout_script_id: uuid.UUID
    checkout_changeset_id: uuid.UUID


async def seed_workspace(settings: Settings, *, runs: int = 24) -> Workspace:
    """Migrate, then create a user, three scripts, two proposed change sets and finished runs."""
    url = settings.resolved_database_url
    await asyncio.to_thread(migrate.upgrade, url)
    engine = create_engine(url)
    sessionmaker = create_sessionmaker(engine)
    email = f"qa-{uuid.uuid4().hex[:8]}@example.com"
    try:
        async with transaction(sessionmaker) as session:
            user = await register(session, email, PASSWORD)
            project_id = (await member_project_ids(session, user.id))[0]
            await create_environment(
                session, user.id, project_id, name="staging", base_url="http://127.0.0.1:9"
            )
            login = await create_script(
                session, user.id, project_id=project_id, title="Login", content=HARD_WAIT_SCRIPT
            )
            home = await create_script(
                session, user.id, project_id=project_id, title="Home", content=STABLE_SCRIPT
            )
            checkout = await create_script(
                session, user.id, project_id=project_id, title="Checkout", content=CHECKOUT_SCRIPT
            )
        changeset, checkout_changeset = [
            await enhance_script(
                sessionmaker,
                user.id,
                script_id,
                EnhanceRequest(prompt="Improve waits and selectors"),
                providers=providers_from_settings(settings),
                allowed_models=settings.openai_models,
                max_script_bytes=settings.max_script_bytes,
            )
            for script_id in (login.id, checkout.id)
        ]
        assert changeset.id is not None and checkout_changeset.id is not None
        async with transaction(sessionmaker) as session:
            start = datetime.now(UTC) - timedelta(days=3)
            for index in range(runs):
                for script, flaky in ((login, True), (home, False)):
                    failed = flaky and index % 3 == 1
                    created = start + timedelta(hours=2 * index)
                    run = TestRun(
                        project_id=project_id,
                        script_id=script.id,
                        script_version=1,
                        environment="staging",
                        base_url="http://127.0.0.1:9",
                        browser="chromium",
                        status="failed" if failed else "passed",
                        created_at=created,
                        started_at=created,
                        completed_at=created + timedelta(seconds=3 + index % 4),
                        attempt=1,
                    )
                    session.add(run)
                    await session.flush()
                    test = RunTest(
                        run_id=run.id,
                        position=0,
                        name="test_login" if flaky else "test_home",
                        outcome="failed" if failed else "passed",
                        duration_ms=3000 + 100 * (index % 4),
                        error="TimeoutError: locator.click: waiting for #login" if failed else None,
                    )
                    session.add(test)
                    # A file run traces every test (a row only: links, not bytes).
                    session.add(
                        RunArtifact(
                            run_id=run.id,
                            name="trace.zip",
                            kind="trace",
                            content_type="application/zip",
                            size_bytes=0,
                            path=f"artifacts/{run.id}/trace.zip",
                        )
                    )
                    await session.flush()
                    session.add(
                        RunStep(
                            run_id=run.id,
                            test_id=test.id,
                            position=0,
                            action="click",
                            locator="#login" if flaky else "role=heading",
                            duration_ms=500,
                            outcome="failed" if failed else "passed",
                            error="Timeout 5000ms exceeded" if failed else None,
                        )
                    )
        async with transaction(sessionmaker) as session:
            for script_id in (login.id, home.id):
                await refresh_script_insights(session, script_id)
        await asyncio.to_thread(rebuild_warehouse, settings)
        return Workspace(
            email,
            PASSWORD,
            user.id,
            project_id,
            login.id,
            changeset.id,
            checkout.id,
            checkout_changeset.id,
        )
    finally:
        await engine.dispose()
