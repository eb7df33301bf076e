"""users: token_version (revokes access tokens) and email_skeleton (one account per look-alike)

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from scriptflow.auth.emails import email_skeleton

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("token_version", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("email_skeleton", sa.String(length=1024), nullable=True))
    users = sa.table("users", sa.column("id", sa.Uuid()), sa.column("email", sa.String()),
                     sa.column("email_skeleton", sa.String()))
    bind = op.get_bind()
    seen: set[str] = set()
    for user_id, email in bind.execute(sa.select(users.c.id, users.c.email)).all():
        skeleton = email_skeleton(email)
        # Look-alike accounts made before this rule keep working; only new ones are refused.
        value = skeleton if skeleton not in seen else None
        seen.add(skeleton)
        bind.execute(users.update().where(users.c.id == user_id).values(email_skeleton=value))
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.create_index("ix_users_email_skeleton", ["email_skeleton"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index("ix_users_email_skeleton")
        batch_op.drop_column("email_skeleton")
        batch_op.drop_column("token_version")
