"""suite runs: selections, shards, per-test node ids, file snapshots, imported results

A run no longer needs one script: a suite run selects from the project's tree, a sharded run
is the parent of its shards, an imported run holds another CI's JUnit results. Each test result
gets its pytest node id and its file.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 11:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("test_runs", schema=None) as batch_op:
        batch_op.alter_column("script_id", existing_type=sa.Uuid(), nullable=True)
        batch_op.alter_column("script_version", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(
            sa.Column("kind", sa.String(length=16), nullable=False, server_default="script")
        )
        batch_op.add_column(sa.Column("parent_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("shard_index", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("shard_count", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("selection", JSON_TYPE, nullable=True))
        batch_op.add_column(sa.Column("snapshot", JSON_TYPE, nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_test_runs_parent_id_test_runs"),
            "test_runs",
            ["parent_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_index(batch_op.f("ix_test_runs_parent_id"), ["parent_id"], unique=False)
    with op.batch_alter_table("run_tests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("nodeid", sa.String(length=1000), nullable=True))
        batch_op.add_column(sa.Column("file", sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("run_tests", schema=None) as batch_op:
        batch_op.drop_column("file")
        batch_op.drop_column("nodeid")
    with op.batch_alter_table("test_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_test_runs_parent_id"))
        batch_op.drop_constraint(batch_op.f("fk_test_runs_parent_id_test_runs"), type_="foreignkey")
        batch_op.drop_column("snapshot")
        batch_op.drop_column("selection")
        batch_op.drop_column("shard_count")
        batch_op.drop_column("shard_index")
        batch_op.drop_column("parent_id")
        batch_op.drop_column("kind")
        batch_op.alter_column("script_version", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("script_id", existing_type=sa.Uuid(), nullable=False)
