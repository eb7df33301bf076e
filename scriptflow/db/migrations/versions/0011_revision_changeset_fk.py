"""the revision → change set foreign key on PostgreSQL

0001 declared it with ``use_alter=True``, which ``create_table`` leaves to a later ALTER that
never came: PostgreSQL databases have had no such constraint (SQLite's table has it). Found by
the check of every migration against the models (tests/db/test_migrations.py).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 15:35:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NAME = "fk_script_revisions_changeset_id_script_changesets"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # A reference to a change set that no longer exists is what the constraint would have
    # turned into NULL; do so first, or adding it fails on such a row.
    op.execute(
        "UPDATE script_revisions SET changeset_id = NULL WHERE changeset_id IS NOT NULL "
        "AND NOT EXISTS (SELECT 1 FROM script_changesets c WHERE c.id = changeset_id)"
    )
    op.create_foreign_key(
        _NAME,
        "script_revisions",
        "script_changesets",
        ["changeset_id"],
        ["id"],
        ondelete="SET NULL",
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_constraint(_NAME, "script_revisions", type_="foreignkey")
