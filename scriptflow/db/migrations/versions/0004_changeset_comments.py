"""reviewers' comments on change sets and their review hunks

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 09:55:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import scriptflow.db.base

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "changeset_comments",
        sa.Column("changeset_id", sa.Uuid(), nullable=False),
        sa.Column("hunk", sa.Integer(), nullable=True),
        sa.Column("author_id", sa.Uuid(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at", scriptflow.db.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["users.id"],
            name=op.f("fk_changeset_comments_author_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["changeset_id"],
            ["script_changesets.id"],
            name=op.f("fk_changeset_comments_changeset_id_script_changesets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_changeset_comments")),
    )
    with op.batch_alter_table("changeset_comments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_changeset_comments_changeset_id"), ["changeset_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_changeset_comments_created_at"), ["created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("changeset_comments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_changeset_comments_created_at"))
        batch_op.drop_index(batch_op.f("ix_changeset_comments_changeset_id"))
    op.drop_table("changeset_comments")
