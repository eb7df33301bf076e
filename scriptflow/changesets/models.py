"""A change set: an AI-proposed new version of a script, waiting for a human decision."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from scriptflow.changesets.guardrails import Risk
from scriptflow.db.base import Base, IdMixin, JSONType, TimestampMixin


class ChangesetStatus(StrEnum):
    """A change set waits for a decision, then is accepted or rejected, once.

    A generated one is `generating` first (exploring, verifying), then `proposed` or `failed`.
    """

    PROPOSED = "proposed"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    GENERATING = "generating"
    FAILED = "failed"


class ScriptChangeSet(IdMixin, TimestampMixin, Base):
    __tablename__ = "script_changesets"
    __table_args__ = (Index("ix_script_changesets_script_status", "script_id", "status"),)

    script_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("scripts.id", ondelete="CASCADE"))
    base_version: Mapped[int] = mapped_column(Integer)
    proposed_diff: Mapped[str] = mapped_column(Text)
    proposed_content: Mapped[str] = mapped_column(Text)
    provider: Mapped[str] = mapped_column(String(32))
    ai_model: Mapped[str | None] = mapped_column(String(100))
    prompt: Mapped[str | None] = mapped_column(Text)
    temperature: Mapped[float | None] = mapped_column(Float)
    confidence: Mapped[float] = mapped_column(Float)
    findings: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    hunks: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    risk: Mapped[str] = mapped_column(String(8), default=Risk.LOW)
    status: Mapped[str] = mapped_column(String(16), default=ChangesetStatus.PROPOSED)
    proposed_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    decided_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    decided_at: Mapped[datetime | None]
    decision_reason: Mapped[str | None] = mapped_column(Text)
    # The review hunks (numbered from 0) an accept took; null before partial accepts existed.
    accepted_hunks: Mapped[list[int] | None] = mapped_column(JSONType)
    revision_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("script_revisions.id", ondelete="SET NULL")
    )
    # Generated change sets (base version 0, a new file): where the accepted file goes, what
    # was asked (environment, path, provider, verify_runs), the verification runs, and why a
    # generation failed.
    target_path: Mapped[str | None] = mapped_column(String(255))
    generation: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    verification: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    failure_reason: Mapped[str | None] = mapped_column(Text)

    @property
    def is_new_file(self) -> bool:
        """A generated file: its diff is from /dev/null and accepting it makes version 1."""
        return self.base_version == 0


class ChangeSetComment(IdMixin, TimestampMixin, Base):
    """A reviewer's note on a change set, on one of its review hunks or on the whole."""

    __tablename__ = "changeset_comments"

    changeset_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("script_changesets.id", ondelete="CASCADE"), index=True
    )
    # A review hunk's number (from 0); null for a comment on the change set as a whole.
    hunk: Mapped[int | None] = mapped_column(Integer)
    author_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
