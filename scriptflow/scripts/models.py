"""A project's files (test modules, support modules, data files) and their revision history.

The table keeps its seed name, `scripts`: every file of the tree is a script with a `path`.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from scriptflow.db.base import Base, IdMixin, TimestampMixin, utcnow
from scriptflow.scripts.paths import MAX_PATH_LENGTH, FileKind


class Script(IdMixin, TimestampMixin, Base):
    __tablename__ = "scripts"
    __table_args__ = (
        Index("ix_scripts_project_created", "project_id", "created_at", "id"),
        UniqueConstraint("project_id", "path", name="uq_scripts_project_path"),
    )

    project_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(String(300), index=True)
    # Relative posix path in the project's tree (scriptflow.scripts.paths rules it).
    path: Mapped[str] = mapped_column(String(MAX_PATH_LENGTH))
    # FileKind: test | support | data, always the one the path implies.
    kind: Mapped[str] = mapped_column(
        String(16), default=FileKind.TEST, server_default=FileKind.TEST.value
    )
    content: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ScriptRevision(IdMixin, TimestampMixin, Base):
    __tablename__ = "script_revisions"
    __table_args__ = (UniqueConstraint("script_id", "version"),)

    script_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("scripts.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    diff: Mapped[str] = mapped_column(Text, default="")
    content: Mapped[str] = mapped_column(Text)
    # create | edit | changeset | revert
    source: Mapped[str] = mapped_column(String(16))
    changeset_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("script_changesets.id", ondelete="SET NULL", use_alter=True)
    )
    applied_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    message: Mapped[str | None] = mapped_column(String(500))
