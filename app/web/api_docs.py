"""`/docs` (Swagger UI) and `/redoc` served from assets on this machine, never from a CDN.

FastAPI's own pages load Swagger UI and ReDoc from jsDelivr (and ReDoc's fonts from Google), so
they are blank offline. The `fastapi-offline` package ships the same assets (MIT); only its
static files are used here, through FastAPI's own page builders.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

ASSETS_PATH = "/docs-assets"
# Both pages load only from this server; the policy says so to the browser as well.
REDOC_CDN_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
DOCS_PAGE_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
)
ASSETS_DIR = Path(fastapi_offline.__file__).resolve().parent / "static"


def mount_api_docs(app: FastAPI) -> None:
    """Serve `/docs`, `/redoc` and their assets locally, in place of FastAPI's CDN pages."""
    if app.openapi_url is None:
        return
    openapi_url = app.openapi_url
    title = app.title
    cdn_pages = {app.docs_url, app.redoc_url} - {None}
    app.router.routes[:] = [
        route for route in app.router.routes if getattr(route, "path", None) not in cdn_pages
    ]

    async def swagger_ui() -> HTMLResponse:
        return _guarded(
            get_swagger_ui_html(
                openapi_url=openapi_url,
                title=f"{title} · API",
                swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
                swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
                swagger_favicon_url=f"{ASSETS_PATH}/favicon.png",
            )
        )

    async def redoc() -> HTMLResponse:
        return _guarded(
            get_redoc_html(
                openapi_url=openapi_url,
                title=f"{title} · API",
                redoc_js_url=f"{ASSETS_PATH}/redoc.standalone.js",
                redoc_favicon_url=f"{ASSETS_PATH}/favicon.png",
                with_google_fonts=False,
            )
        )

    def redoc_script() -> Response:  # sync: FastAPI reads the file in its thread pool
        return Response(_redoc_script(), media_type="application/javascript")

    app.add_api_route("/docs", swagger_ui, methods=["GET"], include_in_schema=False)
    # Before the static mount, so this copy (without the CDN logo) is the one served.
    app.add_api_route(
        f"{ASSETS_PATH}/redoc.standalone.js", redoc_script, methods=["GET"], include_in_schema=False
    )
    app.add_api_route("/redoc", redoc, methods=["GET"], include_in_schema=False)
    app.mount(ASSETS_PATH, StaticFiles(directory=ASSETS_DIR), name="docs-assets")


@lru_cache(maxsize=1)
def _redoc_script() -> bytes:
    """ReDoc's bundle with its one hard-coded CDN URL (the sidebar logo) pointed home."""
    text = (ASSETS_DIR / "redoc.standalone.js").read_text(encoding="utf-8")
    return text.replace(REDOC_CDN_LOGO, f"{ASSETS_PATH}/favicon.png").encode("utf-8")


def _guarded(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = DOCS_PAGE_POLICY
    page.headers["X-Content-Type-Options"] = "nosniff"
    return page
