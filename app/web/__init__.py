"""The browser face: login, the read-only dashboard and the notebook apps behind one cookie."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from app.web import notebook_context
from app.web.api_docs import mount_api_docs
from app.web.login import build_login_router
from app.web.notebook_apps import (
    DASHBOARD_PATH,
    MARIMO_ASSETS_PATH,
    NOTEBOOKS_PREFIX,
    marimo_assets,
    notebook_apps,
    notebook_lifespan,
)
from app.web.session_auth import SessionCookieMiddleware, WebUser, user_from_claims
from app.web.trace_viewer import ARTIFACTS_PREFIX, TRACE_VIEWER_PATH, mount_trace_viewer
from scriptflow.auth.service import user_for_claims
from scriptflow.auth.tokens import TokenConfig, decode_access_token, issue_access_token
from scriptflow.config import Settings
from scriptflow.db.engine import transaction
from scriptflow.ratelimit import RateLimiter

GUARDED_PREFIXES = (DASHBOARD_PATH, NOTEBOOKS_PREFIX, TRACE_VIEWER_PATH, ARTIFACTS_PREFIX)


def mount_web(app: FastAPI, settings: Settings) -> None:
    """Serve `/login`, `/logout`, `/dashboard`, `/notebooks/<step>`, the trace viewer and the
    API docs from the API app."""
    if getattr(app.state, "web_mounted", False):
        return
    app.state.web_mounted = True
    notebook_context.configure(settings)
    # Off in API processes of a deployment whose notebooks run in `scriptflow notebooks`.
    apps = notebook_apps() if settings.notebooks else []
    app.include_router(
        build_login_router(
            settings, GUARDED_PREFIXES, RateLimiter(settings.rate_limit_login_per_minute)
        )
    )
    mount_api_docs(app)
    mount_trace_viewer(app)
    for notebook in apps:
        app.add_api_route(
            notebook.path,
            _redirect_to(notebook.path + "/"),
            methods=["GET", "HEAD"],
            include_in_schema=False,
        )
        app.mount(notebook.path, notebook)
    if apps:  # one copy of marimo's frontend for all of them (cached once by the browser)
        app.mount(MARIMO_ASSETS_PATH, marimo_assets())

    def token_config() -> TokenConfig:
        cfg: TokenConfig = app.state.token_config
        return cfg

    async def verify(token: str) -> WebUser:
        """A session holds while its user is active and has not logged out since (any face:
        the API's logout and a password change bump the token version the cookie carries)."""
        claims = decode_access_token(token_config(), token)
        async with transaction(app.state.sessionmaker, write=False) as session:
            await user_for_claims(session, claims)
        return user_from_claims(claims)

    def renew(user: WebUser) -> str:
        return issue_access_token(token_config(), user.user_id, token_version=user.token_version)

    attributes = f"Path=/; Max-Age={settings.jwt_expires_in}; HttpOnly; SameSite=Lax"
    if settings.is_production:
        attributes += "; Secure"
    app.add_middleware(
        SessionCookieMiddleware,
        verify=verify,
        renew=renew,
        guarded_prefixes=GUARDED_PREFIXES,
        cookie_attributes=attributes,
    )
    _chain_lifespan(app, notebook_lifespan(apps))


def _redirect_to(target: str) -> Any:
    async def redirect() -> RedirectResponse:
        return RedirectResponse(target, status_code=307)

    return redirect


def _chain_lifespan(app: FastAPI, extra: Any) -> None:
    # Starlette never starts a mounted app's lifespan, so ours runs marimo's part of it.
    original = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(asgi_app: Any) -> AsyncIterator[Any]:
        async with original(asgi_app) as state, extra(asgi_app):
            yield state

    app.router.lifespan_context = lifespan
