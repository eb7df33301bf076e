"""The marimo notebooks served as apps: run mode, code hidden, one ASGI app per notebook.

Each app is built on its first request (importing marimo and building a run-mode app takes
seconds), so creating the API app, as every test does, stays cheap.

Two things marimo does per navigation that we do once instead:
- every app's page names marimo's frontend files under one prefix (``MARIMO_ASSETS_PATH``)
  rather than under its own path, so the browser that opened one app has them all;
- the notebook file is read once per version of the file rather than parsed (tokenized,
  dedented, every cell compiled) for the page and again for the session it opens.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import json
import os
import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.web.prestart import Prestarts
from app.web.session_auth import refuse_websocket, send_response

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
# Where every app's page loads marimo's frontend from (its package's ``_static`` folder).
MARIMO_ASSETS_PATH = f"{NOTEBOOKS_PREFIX}/_static"
# The frontend chunks an app's outputs need, by the name of the chunk that draws them (its
# content hash varies with marimo). The browser would ask for them only once the first such
# output arrives, after the cells ran; named in the page, they load while the kernel starts.
OUTPUT_CHUNKS: dict[str, tuple[str, ...]] = {
    DASHBOARD_PATH: ("vega-component",),
    f"{NOTEBOOKS_PREFIX}/insights": ("vega-component",),
}
# A chunk's static imports in the minified bundle (``from"./x.js"``, ``import"./x.js"``);
# dynamic ``import("./x.js")`` is left to the chunk.
STATIC_IMPORT = re.compile(rb'(?:from|import)"\./([\w.-]+\.js)"')


def notebook_routes(notebooks_dir: Path = NOTEBOOKS_DIR) -> dict[str, Path]:
    """URL path → notebook file, for the notebooks that exist."""
    routes = {DASHBOARD_PATH: notebooks_dir / "dashboard.py"}
    for step in (*STEPS, *PAGES):
        routes[f"{NOTEBOOKS_PREFIX}/{step}"] = notebooks_dir / f"{step}.py"
    return {path: file for path, file in routes.items() if file.exists()}


def build_marimo_app(file: Path) -> ASGIApp:
    """A run-mode marimo app for one notebook, with its code hidden (blocking: seconds)."""
    import marimo

    read_cell_positions_once()
    # Mounted at "" so the host app mounts it at its own path: unknown URLs elsewhere keep the
    # API's 404 shape instead of marimo's.
    return (
        marimo.create_asgi_app(
            quiet=True, include_code=False, session_ttl=120, asset_url=MARIMO_ASSETS_PATH
        )
        .with_app(path="", root=str(file))
        .build()
    )


class NotebookApp:
    """One notebook's ASGI app, built in a worker thread on its first request."""

    def __init__(self, path: str, file: Path, prestarts: Prestarts | None = None) -> None:
        self.path = path
        self.file = file
        self.prestarts = prestarts or Prestarts()
        self._asgi: ASGIApp | None = None
        self._building: asyncio.Lock | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        asgi = await self.asgi()
        if scope["type"] not in ("http", "websocket"):
            await asgi(scope, receive, send)
            return
        manager = self.session_manager
        is_page = scope["type"] == "http" and scope["path"].removeprefix(
            scope.get("root_path", "")
        ) in ("", "/")
        if not is_page and not self.prestarts.admit(self.path, manager, scope):
            await refuse_foreign_session(scope, receive, send)
            return
        if scope["type"] == "http" and HASHED_ASSET.search(scope["path"]):
            send = cached_for_good(send)
        elif is_page and self.path in OUTPUT_CHUNKS:
            send = with_preloads(send, preload_links(OUTPUT_CHUNKS[self.path]))
        if is_page and scope.get("method") == "GET":
            self.prestarts.launch(self.path, manager, scope)
        await asgi(scope, receive, send)

    async def asgi(self) -> ASGIApp:
        if self._asgi is None:
            self._building = self._building or asyncio.Lock()
            async with self._building:
                if self._asgi is None:
                    asgi = await asyncio.to_thread(build_marimo_app, self.file)
                    self._asgi = asgi
                    if self.session_manager is not None:
                        load_each_version_once(self.session_manager.workspace)
        return self._asgi

    @property
    def session_manager(self) -> Any:
        # The builder mounts one Starlette app; its state holds marimo's session manager.
        for route in getattr(self._asgi, "routes", []):
            state = getattr(getattr(route, "app", None), "state", None)
            if state is not None and hasattr(state, "session_manager"):
                return state.session_manager
        return None


async def refuse_foreign_session(scope: Scope, receive: Receive, send: Send) -> None:
    """Another user's session id: the socket fails, a call gets the API's 404 shape."""
    if scope["type"] == "websocket":
        await refuse_websocket(receive, send)
        return
    body = json.dumps(
        {"error": {"code": "NOT_FOUND", "message": "No such notebook session", "details": {}}}
    ).encode()
    await send_response(send, 404, body, [(b"content-type", b"application/json")])


def read_cell_positions_once() -> None:
    """Let marimo's kernels find where each cell sits in its notebook file from one read.

    In run mode a kernel compiles every cell twice on start (once to find markdown cells,
    once into its graph), and each compile looks the cell up in a map of the whole notebook
    file. marimo caches that map for one file and clears it whenever a kernel changes its
    graph, so every session parsed its notebook again: over a third of a kernel's start. Here
    the map is kept per file version (modification time, size, inode), as correct as a fresh
    read. If marimo's internals move, nothing is changed.
    """
    try:
        from marimo._ast import compiler
    except ImportError:
        return
    current = getattr(compiler, "_build_source_position_map", None)
    if current is None or getattr(current, "_scriptflow_per_version", False):
        return
    build = getattr(current, "__wrapped__", current)  # below marimo's one-file cache
    maps: dict[str, tuple[tuple[int, int, int], Any]] = {}

    def position_map(filename: str) -> Any:
        try:
            info = os.stat(filename)
        except OSError:
            return build(filename)
        version = (info.st_mtime_ns, info.st_size, info.st_ino)
        known = maps.get(filename)
        if known is not None and known[0] == version:
            return known[1]
        found = build(filename)
        maps[filename] = (version, found)
        return found

    position_map._scriptflow_per_version = True  # type: ignore[attr-defined]
    position_map.cache_clear = maps.clear  # type: ignore[attr-defined]  # as lru_cache has
    compiler._build_source_position_map = position_map  # type: ignore[assignment]


def load_each_version_once(workspace: Any) -> None:
    """Let the app's workspace parse its notebook once per version of the file.

    marimo builds a fresh file manager (the notebook parsed, every cell compiled) for each
    page request and each session: a fifth of a navigation's server time. In run mode nothing
    edits it, so one per file version serves every page and session; a changed file (its
    modification time, size or inode) is read again.
    """
    load = workspace.load
    loaded: dict[str, tuple[tuple[int, int, int], Any]] = {}

    def load_once(key: str, defaults: Any = None) -> Any:
        resolved = workspace.resolve(key)
        try:
            info = os.stat(resolved) if resolved is not None else None
        except OSError:
            info = None
        if info is None:
            return load(key, defaults)
        version = (info.st_mtime_ns, info.st_size, info.st_ino)
        known = loaded.get(key)
        if known is not None and known[0] == version:
            return known[1]
        manager = load(key, defaults)
        loaded[key] = (version, manager)
        return manager

    workspace.load = load_once


def marimo_assets() -> ASGIApp:
    """marimo's frontend files, for every app's page, kept by the browser when hashed."""
    from starlette.staticfiles import StaticFiles

    files = StaticFiles(directory=marimo_static_folder(), check_dir=False)

    async def serve(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and HASHED_ASSET.search(scope["path"]):
            send = cached_for_good(send)
        await files(scope, receive, send)

    return serve


def marimo_static_folder() -> Path:
    spec = importlib.util.find_spec("marimo")  # found, not imported: that takes seconds
    assert spec is not None and spec.submodule_search_locations is not None
    return Path(next(iter(spec.submodule_search_locations))) / "_static"


@functools.cache
def preload_links(chunks: tuple[str, ...]) -> bytes:
    """``<link rel="modulepreload">`` tags for these chunks and every chunk they import,
    less those marimo's page already names; empty when marimo has no such chunk."""
    folder = marimo_static_folder()
    assets = folder / "assets"
    try:
        page = (folder / "index.html").read_bytes()
    except OSError:
        return b""
    named = set(re.findall(rb"\./assets/([\w.-]+\.js)", page))
    wanted: list[bytes] = []
    queue = [
        path.name.encode()
        for chunk in chunks
        for path in sorted(assets.glob(f"{chunk}-*.js"))
        if HASHED_ASSET.search(f"/assets/{path.name}")
    ]
    while queue:
        name = queue.pop()
        if name in named:
            continue
        named.add(name)
        try:
            code = (assets / name.decode()).read_bytes()
        except OSError:
            continue
        wanted.append(name)
        queue.extend(STATIC_IMPORT.findall(code))
    prefix = f"{MARIMO_ASSETS_PATH}/assets/".encode()
    return b"".join(
        b'<link rel="modulepreload" crossorigin href="' + prefix + name + b'">' for name in wanted
    )


def with_preloads(send: Send, links: bytes) -> Send:
    """Put ``links`` at the end of an HTML page's head (a one-message body; else untouched)."""
    if not links:
        return send
    started: Message | None = None

    async def send_with_preloads(message: Message) -> None:
        nonlocal started
        if message["type"] == "http.response.start":
            started = message
            return
        if started is not None and message["type"] == "http.response.body":
            start, started = started, None
            body = message.get("body", b"")
            headers = dict(start["headers"])
            is_page = headers.get(b"content-type", b"").startswith(b"text/html")
            if is_page and not message.get("more_body") and b"</head>" in body:
                body = body.replace(b"</head>", links + b"</head>", 1)
                start = {
                    **start,
                    "headers": [
                        (k, str(len(body)).encode() if k.lower() == b"content-length" else v)
                        for k, v in start["headers"]
                    ],
                }
                message = {**message, "body": body}
            await send(start)
        await send(message)

    return send_with_preloads


def cached_for_good(send: Send) -> Send:
    """Let the browser keep a successful response (private: it is served behind the login)."""

    async def send_cacheable(message: Message) -> None:
        if message["type"] == "http.response.start" and message["status"] == 200:
            headers = [(k, v) for k, v in message["headers"] if k.lower() != b"cache-control"]
            message = {**message, "headers": [*headers, (b"cache-control", ASSET_CACHE)]}
        await send(message)

    return send_cacheable


def notebook_apps(notebooks_dir: Path = NOTEBOOKS_DIR) -> list[NotebookApp]:
    """The notebook apps to mount, not yet built, sharing one bound on started sessions."""
    prestarts = Prestarts()
    return [
        NotebookApp(path, file, prestarts) for path, file in notebook_routes(notebooks_dir).items()
    ]


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
            for prestarts in {id(app.prestarts): app.prestarts for app in apps}.values():
                await prestarts.aclose()
            for app in apps:
                manager = app.session_manager
                if manager is not None:
                    await manager.shutdown()

    return lifespan
