"""Registration, login, refresh, logout and the current user."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from app.deps import CurrentUser, SessionDep, SettingsDep, TokenConfigDep, client_ip, limiter
from app.schemas.auth import Credentials, LogoutIn, RefreshIn, Registration, TokenOut, UserOut
from scriptflow.auth import service
from scriptflow.auth.emails import normalise_email
from scriptflow.projects import accounts

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/register", response_model=UserOut, status_code=status.HTTP_201_CREATED)
async def register(body: Registration, request: Request, session: SessionDep) -> UserOut:
    await limiter(request, "register").acheck(client_ip(request))
    user = await accounts.register(session, body.email, body.password)
    return UserOut.model_validate(user)


@router.post("/login", response_model=TokenOut)
async def login(
    body: Credentials,
    request: Request,
    session: SessionDep,
    cfg: TokenConfigDep,
    settings: SettingsDep,
) -> TokenOut:
    await limiter(request, "login").acheck(f"{client_ip(request)}:{normalise_email(body.email)}")
    user = await service.authenticate(session, body.email, body.password)
    pair = await service.issue_tokens(session, cfg, user, refresh_ttl_s=settings.refresh_expires_in)
    return TokenOut.model_validate(pair)


@router.post("/refresh", response_model=TokenOut)
async def refresh(
    body: RefreshIn, session: SessionDep, cfg: TokenConfigDep, settings: SettingsDep
) -> TokenOut:
    pair = await service.rotate_refresh_token(
        session,
        cfg,
        body.refresh_token,
        refresh_ttl_s=settings.refresh_expires_in,
        grace_s=settings.refresh_grace_s,
    )
    return TokenOut.model_validate(pair)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(user: CurrentUser, session: SessionDep, body: LogoutIn | None = None) -> Response:
    await service.logout(session, user, body.refresh_token if body else None)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me", response_model=UserOut)
async def me(user: CurrentUser) -> UserOut:
    return UserOut.model_validate(user)
