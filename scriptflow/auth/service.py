"""Registration, login, token rotation and logout."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from scriptflow.auth.models import RefreshToken, User
from scriptflow.auth.passwords import hash_password, verify_password
from scriptflow.auth.repository import RefreshTokenRepository, UserRepository
from scriptflow.auth.tokens import (
    TokenConfig,
    decode_access_token,
    hash_refresh_token,
    issue_access_token,
    new_refresh_token,
)
from scriptflow.errors import Conflict, Unauthorized, ValidationFailed
from scriptflow.projects.service import create_project

MIN_PASSWORD_LENGTH = 8
INVALID_CREDENTIALS = "Invalid email or password"


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "bearer"


def normalise_email(email: str) -> str:
    return email.strip().lower()


async def register(session: AsyncSession, email: str, password: str) -> User:
    """Create a user and their personal project; emails are unique regardless of case."""
    email = normalise_email(email)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(
            f"Password must be at least {MIN_PASSWORD_LENGTH} characters",
            details={"fields": [{"field": "password", "message": "too short"}]},
        )
    users = UserRepository(session)
    if await users.by_email(email) is not None:
        raise Conflict("Email already registered", details={"field": "email"})
    password_hash = await asyncio.to_thread(hash_password, password)
    try:
        async with session.begin_nested():
            user = await users.add(User(email=email, password_hash=password_hash))
    except IntegrityError as exc:  # a concurrent registration won the race
        raise Conflict("Email already registered", details={"field": "email"}) from exc
    await create_project(session, user.id, name="Personal")
    return user


async def create_user(session: AsyncSession, email: str, password: str) -> User:
    """Same as register; for the CLI."""
    return await register(session, email, password)


async def authenticate(session: AsyncSession, email: str, password: str) -> User:
    """The user for these credentials; unknown email and wrong password fail the same way."""
    user = await UserRepository(session).by_email(normalise_email(email))
    ok = await asyncio.to_thread(verify_password, user.password_hash if user else None, password)
    if not ok or user is None or not user.is_active:
        raise Unauthorized(INVALID_CREDENTIALS)
    return user


async def issue_tokens(
    session: AsyncSession,
    cfg: TokenConfig,
    user: User,
    *,
    refresh_ttl_s: int,
    family_id: uuid.UUID | None = None,
) -> TokenPair:
    token, token_hash = new_refresh_token()
    now = datetime.now(UTC)
    await RefreshTokenRepository(session).add(
        RefreshToken(
            user_id=user.id,
            family_id=family_id or uuid.uuid4(),
            token_hash=token_hash,
            expires_at=now + timedelta(seconds=refresh_ttl_s),
        )
    )
    return TokenPair(issue_access_token(cfg, user.id, now=now), token, cfg.expires_in)


async def rotate_refresh_token(
    session: AsyncSession, cfg: TokenConfig, token: str, *, refresh_ttl_s: int
) -> TokenPair:
    """Trade a refresh token for a new pair; replaying a used one revokes its whole family."""
    repo = RefreshTokenRepository(session)
    row = await repo.by_hash(hash_refresh_token(token))
    now = datetime.now(UTC)
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        raise Unauthorized("Invalid refresh token")
    if not await repo.mark_used(row.id, now):
        await repo.revoke_family(row.family_id, now)
        # The revocation must outlive the 401 that follows, so it commits on its own.
        await session.commit()
        raise Unauthorized("Refresh token reuse detected; please log in again")
    user = await UserRepository(session).get(row.user_id)
    if user is None or not user.is_active:
        raise Unauthorized("Invalid refresh token")
    return await issue_tokens(
        session, cfg, user, refresh_ttl_s=refresh_ttl_s, family_id=row.family_id
    )


async def logout(session: AsyncSession, user: User, refresh_token: str | None) -> None:
    """Revoke one login (its refresh family) or, without a token, every login of the user."""
    repo = RefreshTokenRepository(session)
    now = datetime.now(UTC)
    if refresh_token:
        row = await repo.by_hash(hash_refresh_token(refresh_token))
        if row is not None and row.user_id == user.id:
            await repo.revoke_family(row.family_id, now)
        return
    await repo.revoke_user(user.id, now)


async def user_from_access_token(session: AsyncSession, cfg: TokenConfig, token: str) -> User:
    claims = decode_access_token(cfg, token)
    user = await UserRepository(session).get(uuid.UUID(claims["sub"]))
    if user is None or not user.is_active:
        raise Unauthorized("Invalid token")
    return user
