"""The app with its web face mounted, a live server for real browsers, and Chromium."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.main import create_app
from app.threaded_server import ThreadedServer
from app.web import mount_web
from scriptflow.config import Settings
from scriptflow.runs.browsers import find_chromium
from tests.support.ci import need

ARTIFACTS_DIR = Path(__file__).resolve().parents[2] / "test-artifacts"


def web_app(settings: Settings) -> FastAPI:
    """The production app with the browser face mounted (a no-op once create_app mounts it)."""
    application = create_app(settings, run_background=False)
    mount_web(application, settings)
    return application


@pytest.fixture
async def web_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    application = web_app(settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


@pytest.fixture(scope="module")
async def chromium() -> AsyncIterator[Any]:
    """One headless Chromium per module, driven by Playwright's async API."""
    from playwright.async_api import async_playwright

    target = find_chromium(Settings())
    if target is None or target.executable_path is None:
        need("Chromium is not installed")
        raise AssertionError("unreachable")
    async with async_playwright() as pw:
        try:
            browser = await pw.chromium.launch(
                executable_path=target.executable_path,
                headless=True,
                args=list(target.launch_args),
            )
        except Exception as exc:
            need(f"Chromium cannot start: {exc}")
            raise
        yield browser
        await browser.close()


@pytest.fixture
def web_application(settings: Settings) -> FastAPI:
    """The app the function-scoped ``live_server`` serves, for tests that look inside it."""
    return web_app(settings)


@pytest.fixture
def live_server(web_application: FastAPI) -> Iterator[ThreadedServer]:
    with ThreadedServer(web_application) as server:
        yield server


@pytest.fixture
def artifacts_dir(request: pytest.FixtureRequest) -> Path:
    path = ARTIFACTS_DIR / request.node.name.replace("/", "_").replace("[", "-").strip("]")
    path.mkdir(parents=True, exist_ok=True)
    return path
