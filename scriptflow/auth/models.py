"""Users and refresh tokens."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from scriptflow.db.base import Base, IdMixin, TimestampMixin


class User(IdMixin, TimestampMixin, Base):
    __tablename__ = "users"
    __table_args__ = (Index("ix_users_email_skeleton", "email_skeleton", unique=True),)

    # Stored lower-cased: case-insensitive uniqueness that works the same on both backends.
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Access tokens carry the version they were issued at; logout bumps it, revoking them all.
    token_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # UTS #39 skeleton of the email: a look-alike of an existing address cannot register.
    email_skeleton: Mapped[str | None] = mapped_column(String(1024))


class RefreshToken(IdMixin, TimestampMixin, Base):
    """One issued refresh token; a family shares one login, and replay revokes the family."""

    __tablename__ = "refresh_tokens"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    family_id: Mapped[uuid.UUID] = mapped_column(index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
