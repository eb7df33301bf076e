"""Real Chromium through step 1: a live page becomes a verified test, reviewed and accepted.

The page is the demo's product list, where every item has its own "Add to cart" button: the
generated locators must name each one by its list item, never by position.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.demo.server import DemoServer
from app.main import create_app
from app.threaded_server import ThreadedServer
from scriptflow.config import Settings
from tests.notebooks.workspace import Workspace, seed_workspace
from tests.web.browsing import TIMEOUT_MS, PageWatch, api_headers, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)]

GENERATION_TIMEOUT_MS = 240_000


@pytest.fixture
async def workspace(settings: Settings) -> Workspace:
    return await seed_workspace(settings, runs=0)


@pytest.fixture
def worker_server(settings: Settings) -> Iterator[ThreadedServer]:
    """The app with run workers: the verification runs really execute."""
    application = create_app(settings.model_copy(update={"workers": 2}), run_background=True)
    with ThreadedServer(application) as server:
        yield server


def ui_value_sent(response: Any) -> bool:
    """marimo's frontend posting an input's new value to the kernel, answered."""
    return response.url.endswith("/set_ui_element_value") and response.ok


async def test_a_page_becomes_a_verified_test_that_review_accepts_as_version_one(
    chromium: Any, worker_server: ThreadedServer, workspace: Workspace, artifacts_dir: Path
) -> None:
    with DemoServer(flaky_rate=0.0) as demo:
        async with httpx.AsyncClient(base_url=worker_server.base_url) as api:
            headers = await api_headers(api, workspace)
            r = await api.post(
                f"/v1/projects/{workspace.project_id}/environments",
                json={"name": "demo", "base_url": demo.base_url},
                headers=headers,
            )
            assert r.status_code == 201, r.text

        context = await chromium.new_context(viewport={"width": 1400, "height": 1000})
        page = await context.new_page()
        watch = PageWatch(page)
        try:
            await sign_in(page, worker_server.base_url, workspace, "/notebooks/generate/")
            await page.get_by_role("combobox", name="Environment").select_option("demo")
            # Each input sends its value a moment after it changed: the click waits for the
            # kernel to have it. Two verification runs, one on each worker, at once: the
            # same "all passed" check as three, for one sandboxed browser run less.
            for field, value in (
                (page.get_by_placeholder("/signup"), "/products"),
                (page.get_by_role("textbox", name="Verification runs"), "2"),
            ):
                async with page.expect_response(ui_value_sent):
                    await field.fill(value)
                    await field.press("Enter")
            await page.get_by_role("button", name="Generate and verify").click()
            await page.get_by_text("2 of 2").wait_for(timeout=GENERATION_TIMEOUT_MS)
            # The code as a diff (marimo's outputs are in shadow roots: locators see them).
            # Its own cell: it may render a moment after the verification's headline.
            await page.get_by_text('filter(has_text="Banana")').first.wait_for(timeout=TIMEOUT_MS)
            assert await page.get_by_text("nth(").count() == 0
            await page.get_by_role("link", name="send it to review").click()

            await page.wait_for_url("**/notebooks/review/**", timeout=TIMEOUT_MS)
            await page.get_by_text("Hunk 0").first.wait_for(timeout=TIMEOUT_MS)
            await page.get_by_role("button", name="Accept", exact=True).click()
            await page.get_by_text("the script is now at version 1").wait_for(timeout=TIMEOUT_MS)
        finally:
            await page.screenshot(
                path=str(artifacts_dir / "generate-to-review.png"), full_page=True
            )
            await context.close()
        assert watch.errors == []

        async with httpx.AsyncClient(base_url=worker_server.base_url) as api:
            files = (
                await api.get(f"/v1/projects/{workspace.project_id}/files", headers=headers)
            ).json()
            generated = next(f for f in files if f["path"] == "tests/test_generated_products.py")
            assert generated["version"] == 1 and generated["kind"] == "test"
