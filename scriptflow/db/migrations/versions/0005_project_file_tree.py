"""a project's scripts become a tree of files with paths

Every script gets a `path` (unique per project) and a `kind` (test, support, data). Existing
scripts were lone test files: each gets `tests/test_<slug of its title>.py`, numbered when two
titles make the same slug, oldest first, so the backfill is deterministic.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 11:20:00
"""

import re
import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _slug(title: str) -> str:
    # A frozen copy of scriptflow.scripts.paths.slug_for_title: a migration must not change
    # its output when the application's rules change later.
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "_", ascii_title.lower()).strip("_")[:60].strip("_")
    return slug or "script"


def upgrade() -> None:
    with op.batch_alter_table("scripts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("path", sa.String(length=255), nullable=True))
        batch_op.add_column(
            sa.Column("kind", sa.String(length=16), nullable=False, server_default="test")
        )

    bind = op.get_bind()
    scripts = sa.table(
        "scripts",
        sa.column("id", sa.Uuid()),
        sa.column("project_id", sa.Uuid()),
        sa.column("title", sa.String()),
        sa.column("created_at", sa.DateTime()),
        sa.column("path", sa.String()),
    )
    rows = bind.execute(
        sa.select(scripts.c.id, scripts.c.project_id, scripts.c.title).order_by(
            scripts.c.project_id, scripts.c.created_at, scripts.c.id
        )
    ).all()
    taken: dict[object, set[str]] = {}
    for script_id, project_id, title in rows:
        used = taken.setdefault(project_id, set())
        slug = _slug(title or "")
        path, n = f"tests/test_{slug}.py", 2
        while path in used:
            path, n = f"tests/test_{slug}_{n}.py", n + 1
        used.add(path)
        bind.execute(sa.update(scripts).where(scripts.c.id == script_id).values(path=path))

    with op.batch_alter_table("scripts", schema=None) as batch_op:
        batch_op.alter_column("path", existing_type=sa.String(length=255), nullable=False)
        batch_op.create_unique_constraint("uq_scripts_project_path", ["project_id", "path"])


def downgrade() -> None:
    with op.batch_alter_table("scripts", schema=None) as batch_op:
        batch_op.drop_constraint("uq_scripts_project_path", type_="unique")
        batch_op.drop_column("kind")
        batch_op.drop_column("path")
