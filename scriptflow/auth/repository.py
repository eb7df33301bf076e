"""SQL for users and refresh tokens."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from scriptflow.auth.models import RefreshToken, User
from scriptflow.db.repository import Repository


class UserRepository(Repository[User]):
    model = User

    async def by_email(self, email: str) -> User | None:
        return (
            await self.session.execute(select(User).where(User.email == email))
        ).scalar_one_or_none()

    async def by_skeleton(self, skeleton: str) -> User | None:
        stmt = select(User).where(User.email_skeleton == skeleton)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def bump_token_version(self, user_id: uuid.UUID) -> None:
        """Revoke every access token issued to the user so far."""
        await self.session.execute(
            update(User)
            .where(User.id == user_id)
            .values(token_version=User.token_version + 1)
            .execution_options(synchronize_session=False)
        )

    async def add(self, user: User) -> User:
        self.session.add(user)
        await self.session.flush()
        return user


class RefreshTokenRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_hash(self, token_hash: str) -> RefreshToken | None:
        stmt = select(RefreshToken).where(RefreshToken.token_hash == token_hash)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def add(self, token: RefreshToken) -> None:
        self.session.add(token)
        await self.session.flush()

    async def mark_used(self, token_id: uuid.UUID, now: datetime) -> bool:
        """Atomically consume a live token; False when it was already used or revoked."""
        stmt = (
            update(RefreshToken)
            .where(
                RefreshToken.id == token_id,
                RefreshToken.used_at.is_(None),
                RefreshToken.revoked_at.is_(None),
            )
            .values(used_at=now)
        )
        result = await self.session.execute(stmt)
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def used_at_if_live(self, token_id: uuid.UUID) -> datetime | None:
        """When a token was used, read afresh; None if it is unused, revoked or gone."""
        stmt = select(RefreshToken.used_at).where(
            RefreshToken.id == token_id, RefreshToken.revoked_at.is_(None)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def revoke_family(self, family_id: uuid.UUID, now: datetime) -> None:
        stmt = (
            update(RefreshToken)
            .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        await self.session.execute(stmt)

    async def revoke_user(self, user_id: uuid.UUID, now: datetime) -> None:
        stmt = (
            update(RefreshToken)
            .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        await self.session.execute(stmt)
