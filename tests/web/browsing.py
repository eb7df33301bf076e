"""What the browser tests share: watching a page's traffic and errors, signing in, the API."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

import httpx

from tests.notebooks.workspace import Workspace

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
TIMEOUT_MS = 60_000
# A drawn dashboard chart (marimo draws Vega on a canvas), and how many the dashboard has.
CHART = ".vega-embed canvas, .vega-embed svg.marks"
DASHBOARD_CHARTS = 7


class PageWatch:
    """Console errors and every host the page (or its workers) talked to."""

    def __init__(self, page: Any) -> None:
        self.errors: list[str] = []
        self.hosts: set[str] = set()
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("request", lambda r: self.hosts.add(host_of(r.url)))


def host_of(url: str) -> str:
    """The host a request went to; data: and blob: URLs never leave the browser."""
    parsed = urlparse(url)
    return "127.0.0.1" if parsed.scheme in ("data", "blob") else parsed.hostname or ""


def watch_context(context: Any) -> set[str]:
    """Every host any page or service worker of the context asked for."""
    hosts: set[str] = set()
    context.on("request", lambda r: hosts.add(host_of(r.url)))
    return hosts


async def sign_in(page: Any, base_url: str, workspace: Workspace, target: str) -> None:
    await page.goto(base_url + target)
    await page.get_by_label("Email").fill(workspace.email)
    await page.get_by_label("Password").fill(workspace.password)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(f"**{target.split('?')[0]}**", timeout=TIMEOUT_MS)


async def api_headers(api: httpx.AsyncClient, workspace: Workspace) -> dict[str, str]:
    """A bearer header for the workspace's user, from the REST API's own login."""
    r = await api.post(
        "/auth/login", json={"email": workspace.email, "password": workspace.password}
    )
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}
