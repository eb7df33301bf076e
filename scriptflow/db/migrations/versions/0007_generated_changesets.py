"""generated change sets: new-file proposals with their verification runs

A generated test is a change set whose base is version 0 of a draft script (its diff is from
/dev/null). It is `generating` while the page is explored and the module verified, then
`proposed` or `failed` (with the reason). It carries what was asked (`generation`), the path the
accepted file takes (`target_path`) and its verification runs (`verification`).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 11:20:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("script_changesets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("target_path", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("generation", _json(), nullable=True))
        batch_op.add_column(sa.Column("verification", _json(), nullable=True))
        batch_op.add_column(sa.Column("failure_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("script_changesets", schema=None) as batch_op:
        batch_op.drop_column("failure_reason")
        batch_op.drop_column("verification")
        batch_op.drop_column("generation")
        batch_op.drop_column("target_path")
