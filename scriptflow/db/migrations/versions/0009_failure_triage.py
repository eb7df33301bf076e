"""failure classes on failed runs and tests; why an insight resolved itself

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 12:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("test_runs", "run_tests")


def upgrade() -> None:
    # batch_alter_table: SQLite cannot add a foreign key in place (it rebuilds the table);
    # PostgreSQL gets plain ALTER TABLE statements.
    for table in _TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("failure_class", sa.String(16), nullable=True))
            batch_op.add_column(sa.Column("failure_class_source", sa.String(16), nullable=True))
            batch_op.add_column(sa.Column("failure_class_by", sa.Uuid(), nullable=True))
            batch_op.add_column(
                sa.Column("failure_class_at", sa.DateTime(timezone=True), nullable=True)
            )
            batch_op.create_foreign_key(
                f"fk_{table}_failure_class_by_users",
                "users",
                ["failure_class_by"],
                ["id"],
                ondelete="SET NULL",
            )
    with op.batch_alter_table("ai_insights", schema=None) as batch_op:
        batch_op.add_column(sa.Column("resolved_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ai_insights", schema=None) as batch_op:
        batch_op.drop_column("resolved_reason")
    for table in reversed(_TABLES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(f"fk_{table}_failure_class_by_users", type_="foreignkey")
            batch_op.drop_column("failure_class_at")
            batch_op.drop_column("failure_class_by")
            batch_op.drop_column("failure_class_source")
            batch_op.drop_column("failure_class")
