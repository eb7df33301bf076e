"""The marimo notebooks served as apps: run mode, code hidden, one ASGI app per notebook."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp

NOTEBOOKS_DIR = Path(__file__).resolve().parents[2] / "notebooks"
DASHBOARD_PATH = "/dashboard"
NOTEBOOKS_PREFIX = "/notebooks"
STEPS = ("generate", "enhance", "review", "run", "insights")


@dataclass(frozen=True)
class NotebookApp:
    """One notebook file and the URL path it is served at."""

    path: str
    file: Path
    asgi: ASGIApp
    session_manager: Any


def notebook_routes(notebooks_dir: Path = NOTEBOOKS_DIR) -> dict[str, Path]:
    """URL path → notebook file, for the notebooks that exist."""
    routes = {DASHBOARD_PATH: notebooks_dir / "dashboard.py"}
    for step in STEPS:
        routes[f"{NOTEBOOKS_PREFIX}/{step}"] = notebooks_dir / f"{step}.py"
    return {path: file for path, file in routes.items() if file.exists()}


def build_notebook_apps(notebooks_dir: Path = NOTEBOOKS_DIR) -> list[NotebookApp]:
    """One marimo run-mode app per notebook, each to be mounted at its own path."""
    import marimo

    apps = []
    for path, file in notebook_routes(notebooks_dir).items():
        # Each notebook gets its own builder mounted at "" so that the host app mounts it at
        # `path`: unknown URLs elsewhere keep the API's 404 shape instead of marimo's.
        built = (
            marimo.create_asgi_app(quiet=True, include_code=False, session_ttl=120)
            .with_app(path="", root=str(file))
            .build()
        )
        apps.append(
            NotebookApp(path=path, file=file, asgi=built, session_manager=_session_manager(built))
        )
    return apps


def _session_manager(built: ASGIApp) -> Any:
    # The builder mounts one Starlette app per notebook; its state holds the session manager.
    for route in getattr(built, "routes", []):
        inner = getattr(route, "app", None)
        state = getattr(inner, "state", None)
        if state is not None and hasattr(state, "session_manager"):
            return state.session_manager
    return None


def notebook_lifespan(
    apps: list[NotebookApp],
) -> Callable[[Any], AbstractAsyncContextManager[None]]:
    """What marimo's own lifespan would do for mounted apps, which Starlette never starts."""

    @asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        from marimo._server.utils import initialize_mimetypes

        initialize_mimetypes()
        try:
            yield
        finally:
            for app in apps:
                if app.session_manager is not None:
                    await app.session_manager.shutdown()

    return lifespan
