"""Real Chromium against the served app: login, the dashboard, the review app, anonymous use."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest

from app.threaded_server import ThreadedServer
from scriptflow.config import Settings
from tests.notebooks.workspace import Workspace, seed_workspace

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)]

CHART = ".vega-embed canvas, .vega-embed svg.marks"
DASHBOARD_CHARTS = 7
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
TIMEOUT_MS = 60_000


class PageWatch:
    """Console errors and every host the page talked to."""

    def __init__(self, page: Any) -> None:
        self.errors: list[str] = []
        self.hosts: set[str] = set()
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("request", lambda r: self.hosts.add(urlparse(r.url).hostname or ""))


async def sign_in(page: Any, base_url: str, workspace: Workspace, target: str) -> None:
    await page.goto(base_url + target)
    await page.get_by_label("Email").fill(workspace.email)
    await page.get_by_label("Password").fill(workspace.password)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(f"**{target.split('?')[0]}**", timeout=TIMEOUT_MS)


@pytest.fixture
async def workspace(settings: Settings) -> Workspace:
    return await seed_workspace(settings)


async def test_login_then_the_dashboard_renders_its_charts_offline_and_cleanly(
    chromium: Any, live_server: ThreadedServer, workspace: Workspace, artifacts_dir: Path
) -> None:
    context = await chromium.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    watch = PageWatch(page)
    try:
        await sign_in(page, live_server.base_url, workspace, "/dashboard/")
        await page.get_by_text("Signed in as").wait_for(timeout=TIMEOUT_MS)
        await page.locator(CHART).nth(DASHBOARD_CHARTS - 1).wait_for(timeout=TIMEOUT_MS)
        await page.get_by_text("Finished runs").wait_for(timeout=TIMEOUT_MS)
        assert await page.locator(CHART).count() >= DASHBOARD_CHARTS
        assert await page.locator("table").count() >= DASHBOARD_CHARTS
        # The seeded flaky selector is on the page, with its evidence in the table.
        await page.get_by_text("#login").first.wait_for(timeout=TIMEOUT_MS)
        # Run mode with code hidden: no editor, no source.
        assert await page.locator(".cm-editor").count() == 0
    finally:
        await page.screenshot(path=str(artifacts_dir / "dashboard.png"), full_page=True)
        await context.close()
    assert watch.errors == []
    assert watch.hosts <= LOOPBACK, watch.hosts


async def test_accepting_a_change_set_in_the_review_app_makes_a_revision(
    chromium: Any, live_server: ThreadedServer, workspace: Workspace, artifacts_dir: Path
) -> None:
    context = await chromium.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    watch = PageWatch(page)
    target = f"/notebooks/review/?script={workspace.script_id}&changeset={workspace.changeset_id}"
    try:
        await sign_in(page, live_server.base_url, workspace, target)
        await page.get_by_text("Hunk 1").wait_for(timeout=TIMEOUT_MS)
        await page.get_by_role("button", name="Accept").click()
        await page.get_by_text("the script is now at version 2").wait_for(timeout=TIMEOUT_MS)
    finally:
        await page.screenshot(path=str(artifacts_dir / "review.png"), full_page=True)
        await context.close()
    assert watch.errors == []

    async with httpx.AsyncClient(base_url=live_server.base_url) as api:
        r = await api.post(
            "/auth/login", json={"email": workspace.email, "password": workspace.password}
        )
        headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
        revisions = (
            await api.get(f"/v1/scripts/{workspace.script_id}/revisions", headers=headers)
        ).json()
        changeset = (
            await api.get(
                f"/v1/scripts/{workspace.script_id}/changesets/{workspace.changeset_id}",
                headers=headers,
            )
        ).json()
    latest = max(revisions, key=lambda rev: rev["version"])
    assert latest["version"] == 2
    assert changeset["status"] == "accepted"


async def test_an_anonymous_browser_gets_the_login_page_and_no_socket(
    chromium: Any, live_server: ThreadedServer, artifacts_dir: Path
) -> None:
    context = await chromium.new_context()
    page = await context.new_page()
    try:
        await page.goto(live_server.base_url + "/dashboard/")
        assert urlparse(page.url).path == "/login"
        await page.get_by_label("Email").wait_for()
        await page.get_by_label("Password").wait_for()
        assert await page.get_by_role("button").count() == 1
        ws_url = live_server.base_url.replace("http", "ws") + "/dashboard/ws?session_id=s1"
        outcome = await page.evaluate(
            """url => new Promise(resolve => {
                const ws = new WebSocket(url);
                ws.onopen = () => resolve("open");
                ws.onerror = () => resolve("refused");
                ws.onclose = () => resolve("refused");
            })""",
            ws_url,
        )
        assert outcome == "refused"
    finally:
        await page.screenshot(path=str(artifacts_dir / "login.png"))
        await context.close()
