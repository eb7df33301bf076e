"""`marimo edit notebooks/review.py` works on a laptop as the configured local user."""

from __future__ import annotations

import asyncio
import socket
import sys
from typing import Any

import httpx
import pytest

from scriptflow.config import Settings
from tests.notebooks.test_notebooks import ROOT, notebook_env
from tests.notebooks.workspace import seed_workspace

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_the_review_notebook_runs_in_marimo_edit_as_the_local_user(
    chromium: Any,
    settings: Settings,
) -> None:
    workspace = await seed_workspace(settings, runs=2)
    port = free_port()
    editor = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "marimo",
        "edit",
        "--headless",
        "--no-token",
        "--port",
        str(port),
        str(ROOT / "notebooks" / "review.py"),
        env=notebook_env(settings, workspace.email),
        cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(300):
                try:
                    if (await client.get(f"http://127.0.0.1:{port}/")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        page = await chromium.new_page()
        await page.goto(f"http://127.0.0.1:{port}/")
        await page.get_by_text("3 · Human validation").first.wait_for(timeout=60_000)
        await page.mouse.click(700, 20)
        await page.keyboard.press("Control+Shift+R")  # run all cells, as a user would
        # The change set proposed for the local user's script, hunk by hunk.
        await page.get_by_text("Hunk 1").first.wait_for(timeout=60_000)
        await page.close()
    finally:
        editor.terminate()
        await editor.wait()
