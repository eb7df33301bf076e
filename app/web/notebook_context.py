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
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from scriptflow.auth.models import User
from scriptflow.auth.repository import UserRepository
from scriptflow.config import Settings
from scriptflow.db.engine import create_engine, transaction
from scriptflow.errors import ScriptflowError, Unauthorized
from scriptflow.insights.models import AIInsight
from scriptflow.insights.service import InsightFilters, list_project_insights
from scriptflow.insights.warehouse import ScopedReader
from scriptflow.insights.warehouse_sync import warehouse_for
from scriptflow.projects.models import Project
from scriptflow.projects.service import list_projects
from scriptflow.scripts.models import Script
from scriptflow.scripts.service import get_script, list_scripts
from scriptflow.wiring import wired_sessionmaker

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
            # Wired as the API is, so an accept here reaches the warehouse at once.
            self._sessionmaker = wired_sessionmaker(self._engine, self.settings)
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
        return warehouse_for(self.settings).reader(project_ids)

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()


# ---------------------------------------------------------------------------------------------
# What every notebook starts with. marimo is imported inside: the server imports this module
# at start-up, and importing marimo takes seconds.

NO_PROJECTS = "You are not a member of any project yet."
NO_SCRIPTS = "This project has no scripts yet."


def stop_with(message: str, *, kind: Literal["warn", "danger"] = "danger") -> None:
    """End the calling cell, showing why (marimo's ``mo.stop`` with a callout)."""
    import marimo as mo

    mo.stop(True, mo.callout(mo.md(message), kind=kind))


async def open_notebook() -> tuple[NotebookContext, User, list[Project]]:
    """A notebook's first cell: the context, the acting user and their projects.

    Stops the cell with the reason when nobody may act or the user has no project.
    """
    import marimo as mo

    try:
        ctx = NotebookContext.from_marimo(mo.app_meta().mode, mo.app_meta().request)
        async with ctx.session(write=False) as session:
            me = await ctx.user(session)
            projects = list((await list_projects(session, me.id, limit=200)).items)
    except ScriptflowError as exc:
        stop_with(exc.message)
    if not projects:
        stop_with(NO_PROJECTS, kind="warn")
    return ctx, me, projects


async def linked_script_of(ctx: NotebookContext, me: User) -> Script | None:
    """The script a ``?script=`` permalink names, when the user may see it (else None)."""
    from app.web.shell import query_uuid

    script_id = query_uuid("script")
    if script_id is None:
        return None
    try:
        async with ctx.session(write=False) as session:
            return await get_script(session, me.id, script_id)
    except ScriptflowError:
        return None


def project_picker(projects: Sequence[Project], selected: uuid.UUID | None = None) -> Any:
    """A project dropdown, on ``selected`` when it is one of them (else the first)."""
    import marimo as mo

    start = next((p for p in projects if p.id == selected), projects[0])
    return mo.ui.dropdown(
        options={p.name: p.id for p in projects}, value=start.name, label="Project"
    )


def script_label(script: Script) -> str:
    return f"{script.title} (v{script.version})"


def script_picker(
    scripts: Sequence[Script], selected: uuid.UUID | None = None, *, new_option: str | None = None
) -> Any:
    """A script dropdown whose value is the Script; ``new_option`` adds a leading "none" choice."""
    import marimo as mo

    options: dict[str, Script | None] = {new_option: None} if new_option else {}
    options.update({script_label(s): s for s in scripts})
    start = next((script_label(s) for s in scripts if s.id == selected), next(iter(options)))
    return mo.ui.dropdown(options=options, value=start, label="Script")


async def project_scripts(
    session: AsyncSession, user_id: uuid.UUID, project_id: uuid.UUID
) -> list[Script]:
    """Every script of a project the user can see, all pages."""
    scripts: list[Script] = []
    cursor = None
    while True:
        page = await list_scripts(session, user_id, project_id=project_id, limit=200, cursor=cursor)
        scripts += page.items
        cursor = page.next_cursor
        if cursor is None:
            return scripts


async def project_insights(
    session: AsyncSession, user_id: uuid.UUID, project_id: uuid.UUID, filters: InsightFilters
) -> list[AIInsight]:
    """Every insight of a project matching the filters, all pages."""
    insights: list[AIInsight] = []
    cursor = None
    while True:
        page = await list_project_insights(
            session, user_id, project_id, filters, limit=200, cursor=cursor
        )
        insights += page.items
        cursor = page.next_cursor
        if cursor is None:
            return insights
