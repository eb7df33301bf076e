"""The base repository's paginate: newest first, every row once, an opaque cursor between pages."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scriptflow.db.engine import transaction
from scriptflow.scripts.repository import ScriptRepository
from tests.factories import create_script, signup


async def test_paginate_walks_every_row_once_newest_first(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    account = await signup(client)
    made = [
        str((await create_script(client, account, title=f"script {i}"))["id"]) for i in range(5)
    ]
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        async with transaction(sessionmaker, write=False) as session:
            repository = ScriptRepository(session)
            stmt = repository.visible_to(uuid.UUID(account.user_id), project_id=None, q=None)
            page = await repository.paginate(stmt, cursor=cursor, limit=2)
        pages += 1
        seen += [str(script.id) for script in page.items]
        assert len(page.items) <= 2
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert pages == 3
    assert seen == list(reversed(made))
