"""What a notebook needs: the settings, its own database connection and the acting user.

Served notebooks (marimo run mode behind the web login) act as the signed-in user, whom the
session-cookie middleware put in the request. Under `marimo edit` or `python notebooks/x.py` they
act as the configured local user, `SCRIPTFLOW_LOCAL_USER` (an email). A served notebook never
falls back to the local user.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from scriptflow.auth.models import User
from scriptflow.auth.repository import UserRepository
from scriptflow.config import Settings
from scriptflow.db.engine import create_engine, create_sessionmaker, transaction
from scriptflow.errors import Unauthorized
from scriptflow.insights.service import warehouse_for
from scriptflow.insights.warehouse import ScopedReader

LOCAL_USER_ENV = "SCRIPTFLOW_LOCAL_USER"
SERVED_MODE = "run"

_configured_settings: Settings | None = None


def configure(settings: Settings) -> None:
    """Make the server's settings the ones its notebook kernels use (they run in-process)."""
    global _configured_settings
    _configured_settings = settings


def current_settings() -> Settings:
    return _configured_settings if _configured_settings is not None else Settings()


@dataclass(frozen=True)
class Identity:
    """Who a notebook acts for: a user id when served, an email when used locally."""

    user_id: uuid.UUID | None
    email: str | None


def identity_for(
    mode: str | None, request_user: Mapping[str, Any] | None, environ: Mapping[str, str]
) -> Identity:
    """Pick the acting identity from marimo's mode and request; refuse when there is none."""
    if mode == SERVED_MODE:
        if not request_user or not request_user.get("is_authenticated"):
            raise Unauthorized("Sign in to use this notebook")
        try:
            return Identity(user_id=uuid.UUID(str(request_user.get("username"))), email=None)
        except ValueError as exc:
            raise Unauthorized("Sign in to use this notebook") from exc
    email = environ.get(LOCAL_USER_ENV, "").strip().lower()
    if not email:
        raise Unauthorized(
            f"Set {LOCAL_USER_ENV} to the email of a scriptflow user to use this notebook locally"
        )
    return Identity(user_id=None, email=email)


class NotebookContext:
    """One notebook kernel's database access and user; create it once, in the setup cell."""

    def __init__(self, settings: Settings, identity: Identity) -> None:
        self.settings = settings
        self.identity = identity
        self._engine: AsyncEngine | None = None
        self._sessionmaker: async_sessionmaker[AsyncSession] | None = None

    @classmethod
    def from_marimo(cls, mode: str | None, request: Any) -> NotebookContext:
        """The context for a notebook, given `mo.app_meta().mode` and `.request`."""
        user = getattr(request, "user", None) if request is not None else None
        identity = identity_for(mode, user if isinstance(user, Mapping) else None, os.environ)
        return cls(current_settings(), identity)

    @property
    def sessionmaker(self) -> async_sessionmaker[AsyncSession]:
        # Created lazily inside the kernel's own event loop, which owns its connections.
        if self._sessionmaker is None:
            self._engine = create_engine(self.settings.resolved_database_url)
            self._sessionmaker = create_sessionmaker(self._engine)
        return self._sessionmaker

    @asynccontextmanager
    async def session(self, *, write: bool = True) -> AsyncIterator[AsyncSession]:
        """One unit of work: commits when the block ends, rolls back on error.

        Reading cells pass ``write=False`` so they never take SQLite's write lock.
        """
        try:
            async with transaction(self.sessionmaker, write=write) as session:
                yield session
        finally:
            # A kernel has no shutdown hook, so pooled connections would outlive it (each
            # aiosqlite connection is a thread): hand them back to the database after each use.
            if self._engine is not None:
                await self._engine.dispose()

    async def user(self, session: AsyncSession) -> User:
        """The acting user's row; an unknown or deactivated user is refused."""
        users = UserRepository(session)
        if self.identity.user_id is not None:
            user = await users.get(self.identity.user_id)
        else:
            user = await users.by_email(self.identity.email or "")
        if user is None or not user.is_active:
            raise Unauthorized("Unknown or inactive user")
        return user

    def warehouse_reader(self, project_ids: Sequence[uuid.UUID]) -> ScopedReader:
        """A read-only view of the analytics warehouse limited to these projects."""
        # The process's one warehouse owner, shared with the server that syncs it after runs.
        return warehouse_for(self.settings.data_dir).reader(project_ids)

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
