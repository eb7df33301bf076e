"""The run outbox: a finished run's RunFinished, written in the transaction of its final status.

A worker dispatches the event right after that commit and marks the row; a worker killed in
between leaves the row behind, and any worker takes it over once its claim has expired (the
run lease's length) and dispatches it then. The handlers are idempotent (the warehouse append
replaces a run already there, a refresh reads the latest state), so an event dispatched twice,
by a slow first worker and the one that took over, costs time, not correctness.
"""

from __future__ import annotations

import os
import signal
import uuid
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from scriptflow.db.base import Base, IdMixin, UTCDateTime, utcnow
from scriptflow.db.engine import transaction

# Dispatched rows are kept this long (what happened to a run's event can be looked up), then go.
KEEP_DISPATCHED = timedelta(days=1)
# Set in a worker's environment by tests only: the worker kills itself at that point.
FAULT_ENV = "SCRIPTFLOW_FAULT_INJECTION"


class RunOutboxEntry(IdMixin, Base):
    __tablename__ = "run_outbox"

    run_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("test_runs.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Until then the worker that wrote it dispatches it; afterwards any worker may.
    claimed_until: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


def add_entry(session: AsyncSession, run_id: uuid.UUID, claim_s: float) -> uuid.UUID:
    """Record a run's RunFinished in the caller's transaction; the writer holds it ``claim_s``."""
    entry = RunOutboxEntry(
        id=uuid.uuid4(), run_id=run_id, claimed_until=utcnow() + timedelta(seconds=claim_s)
    )
    session.add(entry)
    return entry.id


async def mark_dispatched(
    sessionmaker: async_sessionmaker[AsyncSession], entry_ids: list[uuid.UUID]
) -> None:
    """The handlers of these entries ran."""
    if not entry_ids:
        return
    async with transaction(sessionmaker) as session:
        await session.execute(
            update(RunOutboxEntry)
            .where(RunOutboxEntry.id.in_(entry_ids))
            .values(dispatched_at=utcnow())
        )


async def claim_abandoned(
    sessionmaker: async_sessionmaker[AsyncSession], claim_s: float, limit: int = 50
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """Take over entries whose writer's claim expired undispatched: (entry id, run id) pairs.

    One worker gets each: the rows are locked (skipping rows another worker is taking) and
    their claim moved forward in one transaction.
    """
    now = utcnow()
    async with transaction(sessionmaker) as session:
        rows = (
            await session.execute(
                select(RunOutboxEntry.id, RunOutboxEntry.run_id)
                .where(RunOutboxEntry.dispatched_at.is_(None))
                .where(RunOutboxEntry.claimed_until < now)
                .order_by(RunOutboxEntry.created_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()
        if rows:
            await session.execute(
                update(RunOutboxEntry)
                .where(RunOutboxEntry.id.in_([row[0] for row in rows]))
                .values(claimed_until=now + timedelta(seconds=claim_s))
            )
        await session.execute(
            delete(RunOutboxEntry).where(RunOutboxEntry.dispatched_at < now - KEEP_DISPATCHED)
        )
    return [(row[0], row[1]) for row in rows]


def fault_point(name: str) -> None:
    """Die here, as a SIGKILL would, when a test asks for it (``SCRIPTFLOW_FAULT_INJECTION``)."""
    if os.environ.get(FAULT_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
