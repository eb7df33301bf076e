"""The marimo notebooks served as apps: run mode, code hidden, one ASGI app per notebook.

Each app is built on its first request (importing marimo and building a run-mode app takes
seconds), so creating the API app, as every test does, stays cheap.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

NOTEBOOKS_DIR = Path(__file__).resolve().parents[2] / "notebooks"
DASHBOARD_PATH = "/dashboard"
NOTEBOOKS_PREFIX = "/notebooks"
STEPS = ("generate", "enhance", "review", "run", "insights")
# Pages that are no step of their own: the list of runs across scripts.
PAGES = ("runs",)
# marimo's frontend files carry a content hash in their names (``icons-CiZ_8zS-.js``): the
# same name is the same bytes, so the browser may keep them. Without this every page load
# fetched some 300 files again (about 1.7 s of a navigation on a loaded machine).
HASHED_ASSET = re.compile(r"/assets/[^/]+-[A-Za-z0-9_-]{8}\.(?:js|css|woff2?|ttf|svg|png)$")
ASSET_CACHE = b"private, max-age=31536000, immutable"


def notebook_routes(notebooks_dir: Path = NOTEBOOKS_DIR) -> dict[str, Path]:
    """URL path → notebook file, for the notebooks that exist."""
    routes = {DASHBOARD_PATH: notebooks_dir / "dashboard.py"}
    for step in (*STEPS, *PAGES):
        routes[f"{NOTEBOOKS_PREFIX}/{step}"] = notebooks_dir / f"{step}.py"
    return {path: file for path, file in routes.items() if file.exists()}


def build_marimo_app(file: Path) -> ASGIApp:
    """A run-mode marimo app for one notebook, with its code hidden (blocking: seconds)."""
    import marimo

    # Mounted at "" so the host app mounts it at its own path: unknown URLs elsewhere keep the
    # API's 404 shape instead of marimo's.
    return (
        marimo.create_asgi_app(quiet=True, include_code=False, session_ttl=120)
        .with_app(path="", root=str(file))
        .build()
    )


class NotebookApp:
    """One notebook's ASGI app, built in a worker thread on its first request."""

    def __init__(self, path: str, file: Path) -> None:
        self.path = path
        self.file = file
        self._asgi: ASGIApp | None = None
        self._building: asyncio.Lock | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and HASHED_ASSET.search(scope["path"]):
            send = cached_for_good(send)
        await (await self.asgi())(scope, receive, send)

    async def asgi(self) -> ASGIApp:
        if self._asgi is None:
            self._building = self._building or asyncio.Lock()
            async with self._building:
                if self._asgi is None:
                    self._asgi = await asyncio.to_thread(build_marimo_app, self.file)
        return self._asgi

    @property
    def session_manager(self) -> Any:
        # The builder mounts one Starlette app; its state holds marimo's session manager.
        for route in getattr(self._asgi, "routes", []):
            state = getattr(getattr(route, "app", None), "state", None)
            if state is not None and hasattr(state, "session_manager"):
                return state.session_manager
        return None


def cached_for_good(send: Send) -> Send:
    """Let the browser keep a successful response (private: it is served behind the login)."""

    async def send_cacheable(message: Message) -> None:
        if message["type"] == "http.response.start" and message["status"] == 200:
            headers = [(k, v) for k, v in message["headers"] if k.lower() != b"cache-control"]
            message = {**message, "headers": [*headers, (b"cache-control", ASSET_CACHE)]}
        await send(message)

    return send_cacheable


def notebook_apps(notebooks_dir: Path = NOTEBOOKS_DIR) -> list[NotebookApp]:
    """The notebook apps to mount, not yet built."""
    return [NotebookApp(path, file) for path, file in notebook_routes(notebooks_dir).items()]


def notebook_lifespan(
    apps: list[NotebookApp],
) -> Callable[[Any], AbstractAsyncContextManager[None]]:
    """What marimo's own lifespan would do for mounted apps, which Starlette never starts."""

    @asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        import mimetypes

        # Served assets need these types even where the system's tables lack them.
        mimetypes.add_type("application/javascript", ".js")
        mimetypes.add_type("text/css", ".css")
        mimetypes.add_type("image/svg+xml", ".svg")
        try:
            yield
        finally:
            for app in apps:
                manager = app.session_manager
                if manager is not None:
                    await manager.shutdown()

    return lifespan
