"""Application factory: `uvicorn app.main:app`."""

from __future__ import annotations

import asyncio
import copy
import functools
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from starlette.routing import BaseRoute

from app.background import BACKGROUND_SERVICES, Stopper
from app.errors import install_error_handlers
from app.hot_reads import HotScriptReads
from app.metrics import Metrics
from app.middleware import (
    BodySizeLimitMiddleware,
    ClientAddressMiddleware,
    RequestContextMiddleware,
)
from app.openapi import ERROR_RESPONSES, state_allowed_models, tidy_openapi
from app.routers import ROUTERS, health
from app.web import mount_web
from scriptflow import __version__
from scriptflow.auth import passwords
from scriptflow.auth.tokens import AccessTokenVerifier, TokenConfig
from scriptflow.config import ConfigurationError, Settings, get_settings
from scriptflow.db import migrate
from scriptflow.db.read_pool import DriverReadPool
from scriptflow.insights.warehouse_sync import close_warehouses
from scriptflow.logs import configure_logging
from scriptflow.ratelimit import rate_limiters
from scriptflow.wiring import wire

log = logging.getLogger("scriptflow")


def create_app(settings: Settings | None = None, *, run_background: bool = True) -> FastAPI:
    """Build the app; raises ConfigurationError for settings that must not reach production."""
    settings = settings or get_settings()
    token_config = TokenConfig(
        secret=settings.resolve_jwt_secret(),
        algorithm=settings.jwt_algorithm,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        expires_in=settings.jwt_expires_in,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        url = settings.resolved_database_url
        await asyncio.to_thread(migrate.upgrade, url)
        await asyncio.to_thread(passwords.dummy_hash)  # unknown-email logins cost the same
        wiring = wire(settings)
        engine = wiring.engine
        app.state.wiring = wiring
        app.state.engine = engine
        app.state.sessionmaker = wiring.sessionmaker
        app.state.read_pool = await DriverReadPool.open(url)
        stoppers: list[Stopper] = []
        try:
            if run_background:
                for start in BACKGROUND_SERVICES:
                    stoppers.append(await start(app))
            # Start-up objects (models, routes, schemas) never die; moving them out of the
            # collector's reach keeps full collections, and tail latency, short. Once per
            # process: a later app (the suite builds one per test) would pay a full collection
            # of everything the process holds by then, and freeze what its tests leave behind.
            if gc.get_freeze_count() == 0:
                gc.collect()
                gc.freeze()
            log.info("scriptflow %s ready", __version__, extra={"env": settings.env})
            yield
        finally:
            for stop in reversed(stoppers):
                await stop()
            await asyncio.to_thread(close_warehouses)
            await app.state.read_pool.close()
            await engine.dispose()

    app = FastAPI(
        title="scriptflow",
        version=__version__,
        description="Generate → Enhance with AI → Human Validation → Finalize & Run → AI Insights",
        lifespan=lifespan,
        # /docs and /redoc come from local assets (app.web); all three follow docs_enabled.
        openapi_url="/openapi.json" if settings.serves_docs else None,
        docs_url=None,
        redoc_url=None,
        # Our own Prometheus metrics and JSON logs cover this; FastAPI's OpenTelemetry hooks
        # would otherwise look up providers on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    app.state.token_config = token_config
    app.state.token_verifier = AccessTokenVerifier(token_config)
    app.state.metrics = Metrics()
    # Shared by every API process on PostgreSQL (one table, atomic upserts); in process otherwise.
    app.state.rate_limiters = rate_limiters(settings, lambda: app.state.engine)
    install_error_handlers(app)
    app.include_router(health.router)
    app.router.routes.extend(_api_routes())
    mount_web(app, settings)
    _document_our_errors_only(app)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(HotScriptReads, state=app.state)
    app.add_middleware(RequestContextMiddleware, metrics=app.state.metrics)
    # Outermost: every layer and the rate limits see the real client.
    app.add_middleware(ClientAddressMiddleware, trusted=settings.trusted_proxies)
    return app


@functools.cache
def _api_routes() -> tuple[BaseRoute, ...]:
    """The API's routes, assembled once per process and shared by every app built in it.

    FastAPI prepares an included router's handlers (their parameter and response models) at an
    app's first requests, and for every app anew: about 0.4 s of CPU. A server builds one app,
    but the test suite builds one per test, so each test paid that again. Routes shared this way
    take dependency overrides from no app; scriptflow uses none.
    """
    api = APIRouter()
    for router in ROUTERS:
        api.include_router(router, prefix="/v1", responses=ERROR_RESPONSES)
    for router in ROUTERS:
        # The seed's unversioned paths keep working but stay out of the schema.
        api.include_router(router, include_in_schema=False)
    return tuple(api.routes)


_api_schema: dict[str, Any] | None = None


def _document_our_errors_only(app: FastAPI) -> None:
    build = app.openapi

    def openapi() -> dict[str, Any]:
        global _api_schema
        if app.openapi_schema is None:
            if _api_schema is None:
                # The same for every app of the process (shared routes, web pages kept out of
                # the schema), and half a second of CPU to build.
                _api_schema = tidy_openapi(build())
            app.openapi_schema = state_allowed_models(
                copy.deepcopy(_api_schema), app.state.settings.openai_models
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _app_from_environment() -> FastAPI:
    settings = get_settings()
    configure_logging(settings.log_level)
    try:
        return create_app(settings)
    except ConfigurationError as exc:
        raise SystemExit(f"scriptflow refuses to start: {exc.message}") from None


_app: FastAPI | None = None


def __getattr__(name: str) -> FastAPI:
    # `uvicorn app.main:app` builds the app on first access, so importing create_app is free.
    global _app
    if name != "app":
        raise AttributeError(name)
    if _app is None:
        _app = _app_from_environment()
    return _app
