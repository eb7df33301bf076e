"""The tree's service API, as notebooks call it: save, read, list and import by path."""

from __future__ import annotations

import io
import uuid
import zipfile

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scriptflow.db.engine import transaction
from scriptflow.errors import NotFound
from scriptflow.scripts import files
from scriptflow.scripts.archives import UnsafeArchive
from scriptflow.scripts.paths import InvalidPath
from tests.factories import signup


async def test_save_read_list_and_import_through_the_service(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    account = await signup(client)
    user, project = uuid.UUID(account.user_id), uuid.UUID(account.project_id)
    async with transaction(sessionmaker) as session:
        saved = await files.save_file(session, user, project, "./pages//login.py", "A = 1\r\n")
        assert (saved.change, saved.script.path, saved.script.kind) == (
            "created",
            "pages/login.py",
            "support",
        )
        again = await files.save_file(session, user, project, "pages/login.py", "A = 1\r\n")
        assert again.change == "unchanged" and again.script.version == 1
        edited = await files.save_file(session, user, project, "pages/login.py", "A = 2\r\n")
        assert edited.change == "updated" and edited.script.version == 2
        with pytest.raises(InvalidPath):
            await files.save_file(session, user, project, "../login.py", "")

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("pages/login.py", "A = 2\r\n")
        archive.writestr("data/users.csv", "name\nZoë\n")
    async with transaction(sessionmaker) as session:
        summary = await files.import_archive(session, user, project, buffer.getvalue())
    assert (summary.created, summary.unchanged) == (["data/users.csv"], ["pages/login.py"])

    with pytest.raises(UnsafeArchive):
        async with transaction(sessionmaker) as session:
            await files.import_archive(session, user, project, b"PK\x03\x04 broken")

    async with transaction(sessionmaker, write=False) as session:
        tree = await files.list_tree(session, user, project)
        assert [(entry.path, entry.kind, entry.version) for entry in tree] == [
            ("data/users.csv", "data", 1),
            ("pages/login.py", "support", 2),
        ]
        assert tree[0].sha256 == files.content_sha256("name\nZoë\n")
        read = await files.read_file(session, user, project, "data/users.csv")
        assert read.content == "name\nZoë\n"
        with pytest.raises(NotFound):
            await files.read_file(session, user, project, "data/missing.csv")
