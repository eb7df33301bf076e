"""The run outbox's statements: record, take over, and delete entries."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scriptflow.db.base import utcnow
from scriptflow.db.engine import transaction
from scriptflow.runs.outbox.models import RunOutboxEntry


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
    """The handlers of these entries ran: the entries go."""
    if not entry_ids:
        return
    async with transaction(sessionmaker) as session:
        await session.execute(delete(RunOutboxEntry).where(RunOutboxEntry.id.in_(entry_ids)))


async def claim_abandoned(
    sessionmaker: async_sessionmaker[AsyncSession], claim_s: float, limit: int = 50
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """Take over entries whose writer's claim expired undispatched: (entry id, run id) pairs.

    One worker gets each: the rows are locked (skipping rows another worker is taking) and
    their claim moved forward in one transaction.
    """
    now = utcnow()
    expired = RunOutboxEntry.claimed_until < now
    # Read first: the usual answer is none, and that should not take a write lock (SQLite).
    async with transaction(sessionmaker, write=False) as session:
        if (
            await session.execute(select(RunOutboxEntry.id).where(expired).limit(1))
        ).first() is None:
            return []
    async with transaction(sessionmaker) as session:
        rows = (
            await session.execute(
                select(RunOutboxEntry.id, RunOutboxEntry.run_id)
                .where(expired)
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
    return [(row[0], row[1]) for row in rows]
