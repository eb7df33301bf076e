"""Real Chromium against the served app: login, the dashboard, anonymous use."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from fastapi import FastAPI

from app.threaded_server import ThreadedServer
from app.web.notebook_apps import NotebookApp
from scriptflow.config import Settings
from scriptflow.db.engine import create_engine, create_sessionmaker, transaction
from scriptflow.projects.accounts import register
from tests.notebooks.workspace import PASSWORD, Workspace, seed_workspace
from tests.web.browsing import CHART, DASHBOARD_CHARTS, LOOPBACK, TIMEOUT_MS, PageWatch, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)]


# Opens a websocket from the page and says whether the server let it open.
OPEN_SOCKET = """url => new Promise(resolve => {
    const ws = new WebSocket(url);
    ws.onopen = () => { ws.close(); resolve("open"); };
    ws.onerror = () => resolve("refused");
    ws.onclose = () => resolve("refused");
})"""


@pytest.fixture
async def workspace(settings: Settings) -> Workspace:
    return await seed_workspace(settings)


def notebook_app(application: FastAPI, path: str) -> NotebookApp:
    for route in application.routes:
        if isinstance(getattr(route, "app", None), NotebookApp) and route.app.path == path:
            return route.app
    raise AssertionError(f"{path} is not mounted")


async def another_user(settings: Settings) -> str:
    engine = create_engine(settings.resolved_database_url)
    try:
        async with transaction(create_sessionmaker(engine)) as session:
            email = f"other-{uuid.uuid4().hex[:8]}@example.com"
            await register(session, email, PASSWORD)
    finally:
        await engine.dispose()
    return email


async def test_login_then_the_dashboard_renders_its_charts_offline_and_cleanly(
    chromium: Any,
    live_server: ThreadedServer,
    web_application: FastAPI,
    settings: Settings,
    workspace: Workspace,
    artifacts_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dashboard = notebook_app(web_application, "/dashboard")
    prestarts = dashboard.prestarts
    base = live_server.base_url
    context = await chromium.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    watch = PageWatch(page)
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    try:
        await sign_in(page, base, workspace, "/dashboard/")
        await page.get_by_text("Signed in as").wait_for(timeout=TIMEOUT_MS)
        await page.locator(CHART).nth(DASHBOARD_CHARTS - 1).wait_for(timeout=TIMEOUT_MS)
        await page.get_by_text("Finished runs").wait_for(timeout=TIMEOUT_MS)
        assert await page.locator(CHART).count() >= DASHBOARD_CHARTS
        assert await page.locator("table").count() >= DASHBOARD_CHARTS
        # The seeded flaky selector is on the page, with its evidence in the table.
        await page.get_by_text("#login").first.wait_for(timeout=TIMEOUT_MS)
        # Run mode with code hidden: no editor, no source.
        assert await page.locator(".cm-editor").count() == 0
        # All of it came from the kernel the page request started, attached as a new
        # connection: no "Reconnected" notice.
        assert prestarts.claimed == 1
        assert await page.get_by_text("Reconnected").count() == 0
        await page.screenshot(path=str(artifacts_dir / "dashboard.png"), full_page=True)

        # Another signed-in user who learns her session id gets neither its socket nor its API.
        [socket_url] = [url for url in sockets if "/dashboard/ws?" in url]
        session_id = parse_qs(urlparse(socket_url).query)["session_id"][0]
        intruder = await chromium.new_context()
        email = await another_user(settings)
        signed_in = await intruder.request.post(
            base + "/login", form={"email": email, "password": PASSWORD}, max_redirects=0
        )
        assert signed_in.status == 303
        spy = await intruder.new_page()
        await spy.goto(base + "/healthz")
        assert await spy.evaluate(OPEN_SOCKET, socket_url) == "refused"
        status = await spy.evaluate(
            """([url, id]) => fetch(url, {method: "POST", body: "{}",
                headers: {"Marimo-Session-Id": id, "Content-Type": "application/json"}})
                .then(r => r.status)""",
            [base + "/dashboard/api/kernel/set_ui_element_value", session_id],
        )
        assert status == 404
        await intruder.close()
        assert await page.get_by_text("Finished runs").count() == 1

        # Page requests whose page never connects: a second one past the user's bound closes
        # the first, and the last is closed once its time is up.
        monkeypatch.setattr(prestarts.policy, "per_user", 1)
        monkeypatch.setattr(prestarts.policy, "ttl_s", 1.0)
        assert (await context.request.get(base + "/dashboard/")).ok
        [first] = prestarts.waiting
        assert (await context.request.get(base + "/dashboard/?grain=day")).ok
        [last] = prestarts.waiting
        assert first.closed and last is not first
        deadline = time.monotonic() + 30
        while not (last.closed and last.session is not None) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        assert last.closed and last.session is not None
        manager = dashboard.session_manager
        assert manager.get_session(last.session_id) is None
        assert manager.get_session(first.session_id) is None
        assert prestarts.claimed == 1
    finally:
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
