"""run progress events for live run pages (issue 12)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 14:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import scriptflow.db.base

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "run_events",
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("test_position", sa.Integer(), nullable=False),
        sa.Column("test_name", sa.String(length=500), nullable=False),
        sa.Column("nodeid", sa.String(length=1000), nullable=True),
        sa.Column("test_attempt", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=100), nullable=True),
        sa.Column("locator", sa.String(length=1000), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", scriptflow.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["test_runs.id"],
            name=op.f("fk_run_events_run_id_test_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run_events")),
        # The reader's cursor: (run, seq) is unique and is the index every read uses.
        sa.UniqueConstraint("run_id", "seq", name=op.f("uq_run_events_run_id")),
    )


def downgrade() -> None:
    op.drop_table("run_events")
