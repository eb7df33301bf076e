"""run progress events for live run pages (issue 12)

Reserved so work on several issues can add schema in parallel; empty until it is needed.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 14:20:00
"""

from collections.abc import Sequence

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
