"""The run fixtures (the demo target on loopback, a real Chromium), shared with tests/runs, and
a Playwright browser for the notebook."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from scriptflow.runs.browsers import BrowserTarget
from tests.runs.conftest import chromium, demo

__all__ = ["chromium", "demo"]


@pytest.fixture
async def browser(chromium: BrowserTarget) -> AsyncIterator[Any]:
    """A headless Chromium driven by Playwright's async API (the one the runs use too)."""
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        launched = await pw.chromium.launch(
            executable_path=chromium.executable_path,
            headless=True,
            args=list(chromium.launch_args),
        )
        yield launched
        await launched.close()
