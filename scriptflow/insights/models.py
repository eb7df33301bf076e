"""Insights found in run history; a recurring finding updates in place by fingerprint."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from scriptflow.db.base import Base, IdMixin, JSONType, TimestampMixin, UTCDateTime, utcnow


class InsightStatus(StrEnum):
    """Open until someone resolves it; new evidence reopens a resolved insight."""

    OPEN = "open"
    RESOLVED = "resolved"


class AIInsight(IdMixin, TimestampMixin, Base):
    __tablename__ = "ai_insights"
    __table_args__ = (
        UniqueConstraint("project_id", "fingerprint"),
        Index("ix_ai_insights_script_status", "script_id", "status"),
    )

    project_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    script_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("scripts.id", ondelete="CASCADE")
    )
    # flaky-test | flaky-selector | slow-step | recurring-failure | environment-specific |
    # brittle-code | fix-regression
    type: Mapped[str] = mapped_column(String(32))
    # low | medium | high | critical
    severity: Mapped[str] = mapped_column(String(16))
    summary: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    fingerprint: Mapped[str] = mapped_column(String(64))
    # open | resolved
    status: Mapped[str] = mapped_column(String(16), default=InsightStatus.OPEN)
    occurrences: Mapped[int] = mapped_column(Integer, default=1)
    first_seen: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    resolved_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    resolved_at: Mapped[datetime | None]
    # Why it was resolved when no person did (resolved_by is None): "code replaced in version 4".
    resolved_reason: Mapped[str | None] = mapped_column(Text)
    ai_summary: Mapped[str | None] = mapped_column(Text)


class WarehouseQueueEntry(Base):
    """What the deployment's one lake writer has still to write: a finished run's rows, or a
    project's insights to mirror (one of the two per entry).

    Enqueueing is one INSERT in the source of truth (cheap, durable, no lake catalog involved);
    the elected writer (``warehouse_drain``) writes queued entries in batches and deletes them
    after the lake commit. No foreign keys: a run or project deleted meanwhile drains to nothing.
    """

    __tablename__ = "warehouse_queue"

    # Ascending: the writer drains oldest first and deletes exactly what it wrote.
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    run_id: Mapped[uuid.UUID | None]
    project_id: Mapped[uuid.UUID | None]
    enqueued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
