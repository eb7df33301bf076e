"""the run outbox: RunFinished written with the run's final status (issue 15)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import scriptflow.db.base

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "run_outbox",
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", scriptflow.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", scriptflow.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["test_runs.id"],
            name=op.f("fk_run_outbox_run_id_test_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run_outbox")),
    )
    op.create_index(op.f("ix_run_outbox_run_id"), "run_outbox", ["run_id"])
    op.create_index(op.f("ix_run_outbox_claimed_until"), "run_outbox", ["claimed_until"])


def downgrade() -> None:
    op.drop_index(op.f("ix_run_outbox_claimed_until"), table_name="run_outbox")
    op.drop_index(op.f("ix_run_outbox_run_id"), table_name="run_outbox")
    op.drop_table("run_outbox")
