"""The app with its web face mounted, a live server for real browsers, and Chromium."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.main import create_app
from app.web import mount_web
from scriptflow.config import Settings
from scriptflow.threaded_server import ThreadedServer
from tests.conftest import need

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
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


def chromium_executable(settings: Settings | None = None) -> str | None:
    """Chromium from settings, then the system."""
    if settings is not None and settings.browser_executable:
        return str(settings.browser_executable)
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="module")
async def chromium() -> AsyncIterator[Any]:
    """One headless Chromium per module, driven by Playwright's async API."""
    from playwright.async_api import async_playwright

    executable = chromium_executable()
    if executable is None:
        need("Chromium is not installed")
    async with async_playwright() as pw:
        try:
            browser = await pw.chromium.launch(
                executable_path=executable, headless=True, args=CHROMIUM_ARGS
            )
        except Exception as exc:
            need(f"Chromium cannot start: {exc}")
            raise
        yield browser
        await browser.close()


@pytest.fixture
def live_server(settings: Settings) -> Iterator[ThreadedServer]:
    with ThreadedServer(web_app(settings)) as server:
        yield server


@pytest.fixture
def artifacts_dir(request: pytest.FixtureRequest) -> Path:
    path = ARTIFACTS_DIR / request.node.name.replace("/", "_").replace("[", "-").strip("]")
    path.mkdir(parents=True, exist_ok=True)
    return path
