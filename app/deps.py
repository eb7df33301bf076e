"""Dependencies: settings, the request's unit of work, the current user, rate limits."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPBearer
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from scriptflow.auth.models import User
from scriptflow.auth.service import user_for_claims
from scriptflow.auth.tokens import AccessTokenVerifier, TokenConfig, bearer_token
from scriptflow.config import Settings
from scriptflow.db.engine import transaction
from scriptflow.ratelimit import RateLimiter

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


# Async on purpose: FastAPI runs plain `def` dependencies in a worker thread.
async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_token_config(request: Request) -> TokenConfig:
    cfg: TokenConfig = request.app.state.token_config
    return cfg


async def get_token_verifier(request: Request) -> AccessTokenVerifier:
    verifier: AccessTokenVerifier = request.app.state.token_verifier
    return verifier


async def get_engine(request: Request) -> AsyncEngine:
    engine: AsyncEngine = request.app.state.engine
    return engine


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request: commit when the endpoint returns, roll back on error."""
    writes = request.method not in SAFE_METHODS
    async with transaction(request.app.state.sessionmaker, write=writes) as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]
TokenConfigDep = Annotated[TokenConfig, Depends(get_token_config)]
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


class _BearerToken(HTTPBearer):
    """The one `Authorization: Bearer` parser; also declares the scheme in OpenAPI."""

    async def __call__(self, request: Request) -> str:  # type: ignore[override]
        return bearer_token(request.headers.get("authorization"))


BearerToken = Annotated[str, Depends(_BearerToken(auto_error=False))]


async def get_token_claims(request: Request, token: BearerToken) -> dict[str, Any]:
    """Verified claims of the caller's access token (cached per token until it expires)."""
    verifier: AccessTokenVerifier = request.app.state.token_verifier
    return verifier.verify(token)


TokenClaims = Annotated[dict[str, Any], Depends(get_token_claims)]


async def get_current_user(session: SessionDep, claims: TokenClaims) -> User:
    """The caller, active and with a token that was not revoked since it was issued."""
    return await user_for_claims(session, claims)


CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_user_outside_transaction(request: Request, claims: TokenClaims) -> User:
    """The caller, looked up in a short read-only unit of work of its own (for slow routes)."""
    async with transaction(request.app.state.sessionmaker, write=False) as session:
        return await user_for_claims(session, claims)


UserOutsideTransaction = Annotated[User, Depends(get_user_outside_transaction)]


@dataclass(frozen=True)
class Caller:
    """Who calls, from the token alone, for hot reads whose one query checks the rest."""

    user_id: uuid.UUID
    token_version: int
    claims: dict[str, Any]


async def get_caller(claims: TokenClaims) -> Caller:
    return Caller(uuid.UUID(claims["sub"]), claims["ver"], claims)


CurrentCaller = Annotated[Caller, Depends(get_caller)]
EngineDep = Annotated[AsyncEngine, Depends(get_engine)]


def limiter(request: Request, name: str) -> RateLimiter:
    limiters: dict[str, RateLimiter] = request.app.state.rate_limiters
    return limiters[name]


async def check_ai_rate_limit(request: Request, user_id: uuid.UUID) -> None:
    """Every billable AI call (enhance, insight summaries) counts against one key per user."""
    await limiter(request, "enhance").acheck(f"user:{user_id}")


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"
