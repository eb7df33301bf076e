"""A running run's progress events, one row per event, numbered per run by the worker."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from scriptflow.db.base import Base, IdMixin, UTCDateTime, utcnow


class RunEvent(IdMixin, Base):
    __tablename__ = "run_events"
    __table_args__ = (UniqueConstraint("run_id", "seq"),)

    run_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("test_runs.id", ondelete="CASCADE"))
    # 1, 2, 3 … per run, given by the one worker that holds the run's lease: a reader's cursor.
    seq: Mapped[int] = mapped_column(Integer)
    # The run's attempt the event belongs to (a retried run starts its tests again).
    attempt: Mapped[int] = mapped_column(Integer)
    # test_started | step | test_finished
    kind: Mapped[str] = mapped_column(String(16))
    # 0, 1, 2 … in the order the tests started (counted by the worker).
    test_position: Mapped[int] = mapped_column(Integer)
    test_name: Mapped[str] = mapped_column(String(500))
    nodeid: Mapped[str | None] = mapped_column(String(1000))
    # A step: the attempt of its test it ran in; a finished test: how many attempts it took.
    test_attempt: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str | None] = mapped_column(String(100))
    locator: Mapped[str | None] = mapped_column(String(1000))
    outcome: Mapped[str | None] = mapped_column(String(16))
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    # When the worker read the event (its clock, not the run's).
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
