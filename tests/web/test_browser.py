"""Real Chromium against the served app: login, the dashboard, anonymous use."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from app.threaded_server import ThreadedServer
from scriptflow.config import Settings
from tests.notebooks.workspace import Workspace, seed_workspace
from tests.web.browsing import CHART, DASHBOARD_CHARTS, LOOPBACK, TIMEOUT_MS, PageWatch, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)]


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
