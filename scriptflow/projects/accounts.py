"""Signing up: an account and its personal project, in the caller's one unit of work."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from scriptflow.auth.models import User
from scriptflow.auth.service import create_account
from scriptflow.projects.service import create_project

PERSONAL_PROJECT = "Personal"


async def register(session: AsyncSession, email: str, password: str) -> User:
    """Create a user and their personal project (the API's sign-up, the CLI, the demo)."""
    user = await create_account(session, email, password)
    await create_project(session, user.id, name=PERSONAL_PROJECT)
    return user
