"""Drive a codegen script written as ``async def run(playwright)`` inside a run process."""

from __future__ import annotations

from typing import Any

from scriptflow.runs.engine.playwright_patches import force_launch_options
from scriptflow.runs.engine.record import RunConfig


async def run_async_codegen(run: Any, config: RunConfig) -> None:
    """Drive an ``async def run(playwright)`` codegen script with the run's browser settings.

    Steps are not recorded for this form (the sync API is what we instrument); launches are
    still forced headless onto the configured browser and contexts get the base URL.
    """
    from playwright.async_api import Browser as AsyncBrowser
    from playwright.async_api import BrowserType as AsyncBrowserType
    from playwright.async_api import async_playwright

    original_launch = AsyncBrowserType.launch
    original_new_context = AsyncBrowser.new_context

    async def launch(self: Any, **kwargs: Any) -> Any:
        if config.ws_endpoint:
            return await self.connect(config.ws_endpoint)
        return await original_launch(self, **force_launch_options(config, kwargs))

    async def new_context(self: Any, **kwargs: Any) -> Any:
        if config.base_url and not kwargs.get("base_url"):
            kwargs["base_url"] = config.base_url
        return await original_new_context(self, **kwargs)

    AsyncBrowserType.launch = launch  # type: ignore[method-assign,assignment]
    AsyncBrowser.new_context = new_context  # type: ignore[method-assign,assignment]

    class AsyncProxy:
        def __init__(self, playwright: Any) -> None:
            self._playwright = playwright

        def __getattr__(self, name: str) -> Any:
            if name in ("chromium", "firefox", "webkit"):
                return self._playwright[config.browser]
            return getattr(self._playwright, name)

    async with async_playwright() as playwright:
        await run(AsyncProxy(playwright))
