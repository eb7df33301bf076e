"""Accounts, login, token rotation and logout."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from scriptflow.auth.emails import email_skeleton, normalise_email
from scriptflow.auth.models import RefreshToken, User
from scriptflow.auth.passwords import hash_password, needs_rehash, verify_password
from scriptflow.auth.repository import RefreshTokenRepository, UserRepository
from scriptflow.auth.tokens import (
    TokenConfig,
    decode_access_token,
    hash_refresh_token,
    issue_access_token,
    new_refresh_token,
)
from scriptflow.errors import Conflict, Unauthorized, ValidationFailed

MIN_PASSWORD_LENGTH = 8
INVALID_CREDENTIALS = "Invalid email or password"
# RFC 9700 4.14.2: a client that sends one refresh token twice within this window (parallel
# tabs, a retried request) gets a fresh pair in the same family instead of a replay alarm.
REFRESH_GRACE_S = 10.0


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "bearer"


async def create_account(session: AsyncSession, email: str, password: str) -> User:
    """Create a user (signing up also gives them a project: `projects.accounts.register`).

    Emails are unique after normalisation (NFKC, case), and an address that looks like an
    existing one (same UTS #39 skeleton: Cyrillic U+0430 for `a`, `1` for `l`) is refused too.
    """
    email = normalise_email(email)
    skeleton = email_skeleton(email)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed.for_field(
            "password",
            "too short",
            message=f"Password must be at least {MIN_PASSWORD_LENGTH} characters",
        )
    users = UserRepository(session)
    if await users.by_email(email) is not None or await users.by_skeleton(skeleton) is not None:
        raise Conflict("Email already registered", details={"field": "email"})
    password_hash = await asyncio.to_thread(hash_password, password)
    try:
        async with session.begin_nested():
            user = await users.add(
                User(email=email, email_skeleton=skeleton, password_hash=password_hash)
            )
    except IntegrityError as exc:  # a concurrent registration won the race
        raise Conflict("Email already registered", details={"field": "email"}) from exc
    return user


async def authenticate(session: AsyncSession, email: str, password: str) -> User:
    """The user for these credentials; unknown email and wrong password fail the same way."""
    user = await UserRepository(session).by_email(normalise_email(email))
    ok = await asyncio.to_thread(verify_password, user.password_hash if user else None, password)
    if not ok or user is None or not user.is_active:
        raise Unauthorized(INVALID_CREDENTIALS)
    if user.password_hash and needs_rehash(user.password_hash):
        # Made at another cost (an older profile): stored again at today's, saved with the login.
        user.password_hash = await asyncio.to_thread(hash_password, password)
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
    access = issue_access_token(cfg, user.id, token_version=user.token_version, now=now)
    return TokenPair(access, token, cfg.expires_in)


async def rotate_refresh_token(
    session: AsyncSession,
    cfg: TokenConfig,
    token: str,
    *,
    refresh_ttl_s: int,
    grace_s: float = REFRESH_GRACE_S,
) -> TokenPair:
    """Trade a refresh token for a new pair.

    Presenting a token that was used within `grace_s` (concurrent refreshes) gets another pair
    of the same family; replaying it later revokes the family and its access tokens.
    """
    repo = RefreshTokenRepository(session)
    token_hash = hash_refresh_token(token)
    row = await repo.by_hash(token_hash)
    now = datetime.now(UTC)
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        raise Unauthorized("Invalid refresh token")
    if not await repo.mark_used(row.id, now):
        used_at = await repo.used_at_if_live(row.id)
        if used_at is None or (now - used_at).total_seconds() > grace_s:
            await revoke_family(session, row.user_id, row.family_id)
            # The revocation must outlive the 401 that follows, so it commits on its own.
            await session.commit()
            raise Unauthorized("Refresh token reuse detected; please log in again")
    user = await UserRepository(session).get(row.user_id)
    if user is None or not user.is_active:
        raise Unauthorized("Invalid refresh token")
    return await issue_tokens(
        session, cfg, user, refresh_ttl_s=refresh_ttl_s, family_id=row.family_id
    )


async def revoke_family(session: AsyncSession, user_id: uuid.UUID, family_id: uuid.UUID) -> None:
    """End one login: its refresh tokens, and every access token of the user issued so far.

    Access tokens name no family, so the user's token version moves on and all of them stop
    working; other logins of the user recover with their own refresh token.
    """
    await RefreshTokenRepository(session).revoke_family(family_id, datetime.now(UTC))
    await UserRepository(session).bump_token_version(user_id)


async def end_browser_session(session: AsyncSession, user_id: uuid.UUID) -> None:
    """A browser logout: the session cookie, and with it every access token issued so far,
    stops working; refresh tokens of other logins (CLI, CI) recover on their own."""
    await UserRepository(session).bump_token_version(user_id)


async def logout(session: AsyncSession, user: User, refresh_token: str | None) -> None:
    """Revoke one login (its refresh family) or, without a token, every login of the user.

    Either way the user's outstanding access tokens are revoked too.
    """
    repo = RefreshTokenRepository(session)
    if refresh_token:
        row = await repo.by_hash(hash_refresh_token(refresh_token))
        if row is not None and row.user_id == user.id:
            await revoke_family(session, user.id, row.family_id)
            return
    else:
        await repo.revoke_user(user.id, datetime.now(UTC))
    await UserRepository(session).bump_token_version(user.id)


def access_claims(cfg: TokenConfig, token: str) -> dict[str, Any]:
    """Verified claims of an access token (signature, algorithm, lifetime, types)."""
    return decode_access_token(cfg, token)


async def user_for_claims(session: AsyncSession, claims: dict[str, Any]) -> User:
    """The active user a token names, if the token has not been revoked since it was issued."""
    user = await UserRepository(session).get(uuid.UUID(claims["sub"]))
    if user is None or not user.is_active or user.token_version != claims["ver"]:
        raise Unauthorized("Invalid token")
    return user


async def user_from_access_token(session: AsyncSession, cfg: TokenConfig, token: str) -> User:
    return await user_for_claims(session, decode_access_token(cfg, token))
