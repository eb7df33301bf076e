"""Migration 0005 gives existing scripts unique paths from their titles, on both databases."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from scriptflow.config import sync_database_url
from scriptflow.db import migrate
from scriptflow.db.base import UTCDateTime

USERS = sa.table(
    "users",
    sa.column("id", sa.Uuid()),
    sa.column("email", sa.String()),
    sa.column("password_hash", sa.String()),
    sa.column("is_active", sa.Boolean()),
    sa.column("created_at", UTCDateTime()),
)
PROJECTS = sa.table(
    "projects",
    sa.column("id", sa.Uuid()),
    sa.column("owner_id", sa.Uuid()),
    sa.column("name", sa.String()),
    sa.column("settings", sa.JSON()),
    sa.column("created_at", UTCDateTime()),
    sa.column("updated_at", UTCDateTime()),
)
SCRIPTS = sa.table(
    "scripts",
    sa.column("id", sa.Uuid()),
    sa.column("project_id", sa.Uuid()),
    sa.column("title", sa.String()),
    sa.column("content", sa.Text()),
    sa.column("version", sa.Integer()),
    sa.column("created_at", UTCDateTime()),
    sa.column("updated_at", UTCDateTime()),
)


def test_existing_scripts_get_unique_paths_from_their_titles(empty_db: str) -> None:
    migrate.upgrade(empty_db, "0004")
    engine = sa.create_engine(sync_database_url(empty_db))
    now = datetime(2026, 1, 1, tzinfo=UTC)
    user, first, second = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    titles = {
        first: ["Login flow", "Login  flow!", "Ünïcode checkout", "日本語"],
        second: ["Login flow"],
    }
    ids: dict[tuple[uuid.UUID, int], uuid.UUID] = {}
    with engine.begin() as conn:
        conn.execute(
            sa.insert(USERS).values(
                id=user, email="old@example.com", password_hash="x", is_active=True, created_at=now
            )
        )
        for project, names in titles.items():
            conn.execute(
                sa.insert(PROJECTS).values(
                    id=project, owner_id=user, name="P", settings={}, created_at=now, updated_at=now
                )
            )
            for i, title in enumerate(names):
                ids[project, i] = uuid.uuid4()
                conn.execute(
                    sa.insert(SCRIPTS).values(
                        id=ids[project, i],
                        project_id=project,
                        title=title,
                        content="x = 1\n",
                        version=1,
                        created_at=now + timedelta(seconds=i),
                        updated_at=now,
                    )
                )
    migrate.upgrade(empty_db, "0005")
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT id, path, kind FROM scripts")).all()
    found = {uuid.UUID(str(row[0])): (row[1], row[2]) for row in rows}
    assert found == {
        ids[first, 0]: ("tests/test_login_flow.py", "test"),
        ids[first, 1]: ("tests/test_login_flow_2.py", "test"),
        ids[first, 2]: ("tests/test_unicode_checkout.py", "test"),
        ids[first, 3]: ("tests/test_script.py", "test"),
        ids[second, 0]: ("tests/test_login_flow.py", "test"),
    }
    # The path is unique per project from now on.
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE scripts SET path = 'tests/test_login_flow.py' WHERE id = :id"),
            {"id": ids[first, 2] if engine.dialect.name == "postgresql" else ids[first, 2].hex},
        )
    migrate.downgrade(empty_db, "0004")
    engine.dispose()
