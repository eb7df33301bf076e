"""The demo's workspace and history: a user, a project on the demo web app, scripts as people
write them, and real runs before and after accepting the rules provider's enhancements, so the
dashboard can say whether the fixes worked. A second start finds the project and reuses it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scriptflow.auth.models import User
from scriptflow.auth.repository import UserRepository
from scriptflow.auth.service import authenticate, normalise_email
from scriptflow.changesets.service import accept_changeset
from scriptflow.config import Settings
from scriptflow.db import migrate
from scriptflow.db.engine import create_engine, transaction
from scriptflow.enhance.service import (
    EnhanceRequest,
    enhance_script,
    providers_from_settings,
)
from scriptflow.errors import GuardrailViolation
from scriptflow.insights.service import InsightFilters, list_project_insights
from scriptflow.insights.warehouse_sync import catch_up, warehouse_for
from scriptflow.projects.accounts import register
from scriptflow.projects.models import Environment, Project
from scriptflow.projects.service import (
    create_environment,
    create_project,
    list_environments,
    list_projects,
    update_environment,
)
from scriptflow.runs.models import TERMINAL_STATUSES
from scriptflow.runs.service import RunFilters, create_run, get_run, list_runs
from scriptflow.scripts.models import Script
from scriptflow.scripts.service import create_script, list_scripts
from scriptflow.wiring import seen_locators, wired_sessionmaker

DEFAULT_EMAIL = "demo@scriptflow.dev"
DEFAULT_PASSWORD = "scriptflow-demo"
PROJECT_NAME = "Demo shop"
ENVIRONMENT_NAME = "demo"
BROWSER = "chromium"
ROUNDS_BEFORE = 3
ROUNDS_AFTER = 3
EXTRA_ROUNDS_FOR_INSIGHTS = 6
FLAKY_RATE = 0.4
HISTORY_INSIGHTS = ("flaky-test", "flaky-selector", "recurring-failure")
POLL_S = 0.5

# title → content; written the way people write them, warts included.
DEMO_SCRIPTS: dict[str, str] = {
    "Log in": """def test_login(page):
    page.goto("/login")
    page.wait_for_timeout(1000)  # give the form time to settle
    page.fill("#username", "demo")
    page.fill("#password", "demo-password")
    page.click("#login")
    assert page.is_visible("#welcome")
""",
    "Delayed message": """import time


def test_delayed_message(page):
    page.goto("/delayed?ms=700")
    time.sleep(1)
    assert page.inner_text("#delayed-message") == "Ready"
""",
    "Flaky continue": """def test_continue(page):
    page.goto("/flaky")
    page.click("body > button:nth-child(3)", timeout=3000)
    assert page.inner_text("#status") == "OK"
""",
    "Home page": """from playwright.sync_api import Page, expect


def test_home(page: Page) -> None:
    page.goto("/")
    expect(page.get_by_role("heading", name="Demo shop")).to_be_visible()
""",
    "Log in (recorded)": """from playwright.sync_api import Playwright, sync_playwright, expect


def run(playwright: Playwright) -> None:
    browser = playwright.chromium.launch(headless=False)
    context = browser.new_context()
    page = context.new_page()
    page.goto("/login")
    page.get_by_label("Username").fill("demo")
    page.get_by_label("Password").fill("demo-password")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#welcome")).to_contain_text("Welcome")
    context.close()
    browser.close()


with sync_playwright() as playwright:
    run(playwright)
""",
}


@dataclass(frozen=True)
class DemoWorkspace:
    """The demo's user, project and scripts, and whether it already had history."""

    user_id: uuid.UUID
    email: str
    project_id: uuid.UUID
    script_ids: list[uuid.UUID]
    finished_runs: int


Progress = Callable[[int, int, str], None]


async def prepare_workspace(
    settings: Settings, *, email: str, password: str, demo_base_url: str
) -> DemoWorkspace:
    """Migrate; find or create the demo user, project, environment and scripts."""
    url = settings.resolved_database_url
    await asyncio.to_thread(migrate.upgrade, url)
    engine = create_engine(url)
    try:
        async with transaction(wired_sessionmaker(engine, settings)) as session:
            user = await _demo_user(session, email, password)
            project = await _demo_project(session, user)
            await _point_environment(session, user, project, demo_base_url)
            scripts = await _demo_scripts(session, user, project)
            finished = await _finished_runs(session, user, project.id)
        return DemoWorkspace(user.id, user.email, project.id, [s.id for s in scripts], finished)
    finally:
        await engine.dispose()


async def _demo_user(session: AsyncSession, email: str, password: str) -> User:
    existing = await UserRepository(session).by_email(normalise_email(email))
    if existing is None:
        return await register(session, email, password)
    # Reusing an account proves the password, so a demo run never takes over someone's user.
    return await authenticate(session, email, password)


async def _demo_project(session: AsyncSession, user: User) -> Project:
    projects = (await list_projects(session, user.id, limit=200)).items
    found = next((p for p in projects if p.name == PROJECT_NAME), None)
    return found or await create_project(session, user.id, name=PROJECT_NAME)


async def _point_environment(
    session: AsyncSession, user: User, project: Project, base_url: str
) -> Environment:
    environments = await list_environments(session, user.id, project.id)
    env = next((e for e in environments if e.name == ENVIRONMENT_NAME), None)
    if env is None:
        return await create_environment(
            session, user.id, project.id, name=ENVIRONMENT_NAME, base_url=base_url
        )
    if env.base_url != base_url.rstrip("/"):
        # The demo app may listen on another port this time.
        env = await update_environment(session, user.id, project.id, env.id, base_url=base_url)
    return env


async def _demo_scripts(session: AsyncSession, user: User, project: Project) -> list[Script]:
    existing = {
        s.title: s
        for s in (await list_scripts(session, user.id, project_id=project.id, limit=200)).items
    }
    scripts = []
    for title, content in DEMO_SCRIPTS.items():
        script = existing.get(title) or await create_script(
            session, user.id, project_id=project.id, title=title, content=content
        )
        scripts.append(script)
    return scripts


async def _finished_runs(session: AsyncSession, user: User, project_id: uuid.UUID) -> int:
    page = await list_runs(session, user.id, RunFilters(project_id=project_id), limit=200)
    return sum(1 for run in page.items if run.status in TERMINAL_STATUSES)


def planned_runs(workspace: DemoWorkspace) -> int:
    """How many runs a first start executes (before and after the enhancements)."""
    return len(workspace.script_ids) * (ROUNDS_BEFORE + ROUNDS_AFTER)


async def build_history(
    settings: Settings, workspace: DemoWorkspace, progress: Progress
) -> list[str]:
    """Run, enhance, accept, run again; then more flaky rounds until insights exist."""
    engine = create_engine(settings.resolved_database_url)
    sessionmaker = wired_sessionmaker(engine, settings)
    total = planned_runs(workspace)
    done = 0
    notes: list[str] = []
    try:
        for _ in range(ROUNDS_BEFORE):
            done = await _run_round(sessionmaker, settings, workspace, done, total, progress)
        notes += await accept_enhancements(sessionmaker, settings, workspace)
        for _ in range(ROUNDS_AFTER):
            done = await _run_round(sessionmaker, settings, workspace, done, total, progress)
        # The flaky page needs enough runs to show as flaky; rerun only it until it does.
        flaky = [workspace.script_ids[list(DEMO_SCRIPTS).index("Flaky continue")]]
        for _ in range(EXTRA_ROUNDS_FOR_INSIGHTS):
            if await _has_history_insights(sessionmaker, workspace):
                break
            total += len(flaky)
            done = await _run_round(sessionmaker, settings, workspace, done, total, progress, flaky)
        await sync_analytics(sessionmaker, settings)
    finally:
        await engine.dispose()
    return notes


async def _run_round(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    workspace: DemoWorkspace,
    done: int,
    total: int,
    progress: Progress,
    script_ids: Sequence[uuid.UUID] | None = None,
) -> int:
    async with transaction(sessionmaker) as session:
        run_ids = [
            (
                await create_run(
                    session,
                    workspace.user_id,
                    settings,
                    script_id=script_id,
                    environment=ENVIRONMENT_NAME,
                    browser=BROWSER,
                    trigger="demo",
                )
            ).id
            for script_id in script_ids or workspace.script_ids
        ]
    return await _wait_for(sessionmaker, workspace.user_id, run_ids, done, total, progress)


async def _wait_for(
    sessionmaker: async_sessionmaker[AsyncSession],
    user_id: uuid.UUID,
    run_ids: Sequence[uuid.UUID],
    done: int,
    total: int,
    progress: Progress,
) -> int:
    pending = set(run_ids)
    while pending:
        await asyncio.sleep(POLL_S)
        async with transaction(sessionmaker) as session:
            for run_id in list(pending):
                detail = await get_run(session, user_id, run_id)
                if detail.run.status in TERMINAL_STATUSES:
                    pending.discard(run_id)
                    done += 1
                    progress(done, total, f"run {done}/{total}: {detail.run.status}")
    return done


async def accept_enhancements(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, workspace: DemoWorkspace
) -> list[str]:
    """Propose rules-provider change sets for every script and accept the low-risk ones."""
    notes = []
    providers = providers_from_settings(settings)
    for script_id in workspace.script_ids:
        proposal = await enhance_script(
            sessionmaker,
            workspace.user_id,
            script_id,
            EnhanceRequest(prompt="Improve waits and selectors"),
            providers=providers,
            allowed_models=settings.openai_models,
            max_script_bytes=settings.max_script_bytes,
            seen_locators=seen_locators,
        )
        if proposal.id is None:
            continue
        try:
            async with transaction(sessionmaker) as session:
                revision = await accept_changeset(
                    session, workspace.user_id, script_id, proposal.id
                )
            notes.append(f"accepted a change set: script now at version {revision.version}")
        except GuardrailViolation as exc:
            notes.append(f"left a high-risk change set for review: {exc.message}")
    return notes


async def _has_history_insights(
    sessionmaker: async_sessionmaker[AsyncSession], workspace: DemoWorkspace
) -> bool:
    async with transaction(sessionmaker, write=False) as session:
        for kind in HISTORY_INSIGHTS:
            page = await list_project_insights(
                session, workspace.user_id, workspace.project_id, InsightFilters(type=kind), limit=1
            )
            if page.items:
                return True
    return False


async def sync_analytics(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    """Bring the dashboard's warehouse up to date: runs, revisions and insights."""
    async with transaction(sessionmaker, write=False) as session:
        await catch_up(session, warehouse_for(settings))
