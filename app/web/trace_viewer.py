"""Playwright's trace viewer and run artifacts, for signed-in browsers, offline.

The viewer is the static build inside the `playwright` wheel
(``driver/package/lib/vite/traceViewer``); it loads a ``trace.zip`` from a URL given as
``?trace=`` through its service worker, a same-origin fetch that carries the session cookie.
Both live under guarded prefixes, so the session middleware admits only a signed-in user, and
the artifact route hands out only runs that user may see (others' are 404).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from urllib.parse import quote

import playwright
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import StreamingResponse
from fastapi.staticfiles import StaticFiles

from scriptflow.db.engine import transaction
from scriptflow.errors import Unauthorized
from scriptflow.runs.downloads import artifact_download

TRACE_VIEWER_PATH = "/trace"
ARTIFACTS_PREFIX = "/web"
TRACE_VIEWER_DIR = (
    Path(playwright.__file__).resolve().parent / "driver/package/lib/vite/traceViewer"
)


def artifact_url(run_id: uuid.UUID, name: str) -> str:
    """Where a signed-in browser downloads one artifact of a run."""
    return f"{ARTIFACTS_PREFIX}/runs/{run_id}/artifacts/{quote(name, safe='')}"


def trace_viewer_url(run_id: uuid.UUID, name: str = "trace.zip") -> str:
    """The trace viewer opened on a run's trace."""
    return f"{TRACE_VIEWER_PATH}/index.html?trace={quote(artifact_url(run_id, name), safe='/')}"


def build_artifacts_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get(ARTIFACTS_PREFIX + "/runs/{run_id}/artifacts/{name}")
    async def run_artifact(run_id: uuid.UUID, name: str, request: Request) -> StreamingResponse:
        user = request.scope.get("user")
        user_id = getattr(user, "user_id", None)
        if not isinstance(user_id, uuid.UUID):
            raise Unauthorized("Sign in first")
        settings = request.app.state.settings
        async with transaction(request.app.state.sessionmaker, write=False) as session:
            # From the deployment's store (a directory or S3), streamed from this origin: the
            # trace viewer's service worker reads it same-origin, with the session cookie.
            found = await artifact_download(session, user_id, run_id, name, settings, presign=False)
        assert found.chunks is not None
        headers = {
            # Artifacts are untrusted files a run wrote: never rendered inline as a page.
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
            # Names are plain file names (scriptflow.runs.artifacts.SAFE_NAME): no quoting needed.
            "Content-Disposition": f'attachment; filename="{found.artifact.name}"',
        }
        if found.size is not None:
            headers["Content-Length"] = str(found.size)
        return StreamingResponse(
            found.chunks,
            media_type=found.artifact.content_type or "application/octet-stream",
            headers=headers,
        )

    return router


def mount_trace_viewer(app: FastAPI) -> None:
    """Serve the viewer's static build and the artifact route (both guarded by the caller)."""
    app.include_router(build_artifacts_router())
    if TRACE_VIEWER_DIR.is_dir():
        app.mount(
            TRACE_VIEWER_PATH,
            StaticFiles(directory=TRACE_VIEWER_DIR, html=True),
            name="trace-viewer",
        )
