"""Dependencies: settings, the request's unit of work, the current user, rate limits."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from scriptflow.auth.models import User
from scriptflow.auth.service import user_from_access_token
from scriptflow.auth.tokens import AccessTokenVerifier, TokenConfig
from scriptflow.config import Settings
from scriptflow.db.engine import transaction
from scriptflow.errors import Unauthorized
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

_bearer = HTTPBearer(auto_error=False)


async def get_current_user(
    session: SessionDep,
    cfg: TokenConfigDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("Missing bearer token")
    return await user_from_access_token(session, cfg, credentials.credentials)


CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_current_user_id(
    verifier: Annotated[AccessTokenVerifier, Depends(get_token_verifier)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> uuid.UUID:
    """The caller from the token alone, for hot reads whose query checks the user is active."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("Missing bearer token")
    return uuid.UUID(verifier.verify(credentials.credentials)["sub"])


CurrentUserId = Annotated[uuid.UUID, Depends(get_current_user_id)]
EngineDep = Annotated[AsyncEngine, Depends(get_engine)]


def limiter(request: Request, name: str) -> RateLimiter:
    limiters: dict[str, RateLimiter] = request.app.state.rate_limiters
    return limiters[name]


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"
