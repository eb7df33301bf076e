"""suite runs feeding insights (issue 13)

Reserved so work on several issues can add schema in parallel; empty until it is needed.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 14:20:00
"""

from collections.abc import Sequence

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
