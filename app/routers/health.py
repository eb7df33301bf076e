"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import hmac
import ipaddress

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy import text

from app.openapi import ErrorOut
from scriptflow.auth.tokens import bearer_token
from scriptflow.errors import Forbidden, Unauthorized

router = APIRouter(tags=["health"])

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    responses={503: {"model": ErrorOut, "description": "The database does not answer"}},
)
async def readyz(request: Request) -> JSONResponse:
    try:
        async with request.app.state.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception:
        return JSONResponse(
            {
                "error": {
                    "code": "NOT_READY",
                    "message": "Database unavailable",
                    "details": {"database": "down"},
                }
            },
            status_code=503,
        )
    return JSONResponse({"status": "ready", "database": "ok"})


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    responses={
        200: {
            "content": {"text/plain": {"schema": {"type": "string"}}},
            "description": "Prometheus text exposition format",
        },
        401: {"model": ErrorOut, "description": "A metrics token is configured and missing"},
        403: {"model": ErrorOut, "description": "Production without a token: loopback only"},
    },
)
async def metrics(request: Request) -> Response:
    """Prometheus metrics; guarded by `SCRIPTFLOW_METRICS_TOKEN`, or loopback-only in production."""
    check_metrics_access(request)
    return Response(request.app.state.metrics.render(), media_type=PROMETHEUS_TEXT)


def check_metrics_access(request: Request) -> None:
    settings = request.app.state.settings
    if settings.metrics_token is not None:
        token = bearer_token(request.headers.get("authorization"))
        if not hmac.compare_digest(
            token.encode(), settings.metrics_token.get_secret_value().encode()
        ):
            raise Unauthorized("Invalid metrics token")
        return
    if settings.is_production and not _is_loopback(request.client.host if request.client else ""):
        raise Forbidden("Metrics answer loopback clients only; set SCRIPTFLOW_METRICS_TOKEN")


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
