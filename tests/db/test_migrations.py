"""Every migration, up and down, on both databases, leaves the schema the models describe."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from scriptflow.config import sync_database_url
from scriptflow.db import migrate
from scriptflow.db.models import Base


def drift(url: str) -> list[Any]:
    """What the database has that the models do not, or the other way round."""
    engine = sa.create_engine(sync_database_url(url))
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


def tables(url: str) -> set[str]:
    engine = sa.create_engine(sync_database_url(url))
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_the_chain_goes_up_down_and_up_again_to_the_models_schema(empty_db: str) -> None:
    migrate.upgrade(empty_db)
    assert drift(empty_db) == []
    migrate.downgrade(empty_db, "base")  # every downgrade runs, newest first
    assert tables(empty_db) == {"alembic_version"}
    migrate.upgrade(empty_db)
    assert drift(empty_db) == []
    assert migrate.current_revision(empty_db) == _head()


def _head() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(migrate.alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head
