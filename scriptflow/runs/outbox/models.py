"""The run outbox's table: one row per finished run whose handlers have not run yet."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from scriptflow.db.base import Base, IdMixin, UTCDateTime, utcnow


class RunOutboxEntry(IdMixin, Base):
    __tablename__ = "run_outbox"

    run_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("test_runs.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Until then the worker that wrote it dispatches it; afterwards any worker may.
    claimed_until: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
