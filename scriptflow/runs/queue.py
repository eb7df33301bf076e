"""The runs table as a durable queue: claim with a lease, heartbeat, fenced finish, reaping.

Claiming takes a ``queued`` run, or a ``running`` one whose lease expired (its worker died)
while attempts remain. On PostgreSQL the candidate row is locked with ``FOR UPDATE SKIP LOCKED``
so concurrent workers never wait on or take the same row; on SQLite the write transaction is
``BEGIN IMMEDIATE`` and the claim is a conditional UPDATE that only succeeds if the row is
still claimable. Every later write by the worker is fenced on ``worker_id`` and ``attempt``, so
a worker that lost its lease can never overwrite the run.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scriptflow.db.base import utcnow
from scriptflow.db.engine import is_sqlite, transaction
from scriptflow.runs.models import NEVER_EXECUTED, TestRun
from scriptflow.runs.shard_merge import merge_shards


@dataclass(frozen=True)
class Claim:
    """A run this worker now owns, for this attempt."""

    run_id: uuid.UUID
    worker_id: str
    attempt: int


@dataclass(frozen=True)
class LeaseState:
    still_owner: bool
    cancel_requested: bool


def _claimable(now: datetime) -> object:
    expired = and_(
        TestRun.status == "running",
        TestRun.lease_expires_at < now,
        TestRun.attempt < TestRun.max_attempts,
        TestRun.cancel_requested.is_(False),
    )
    queued = and_(
        TestRun.status == "queued",
        TestRun.cancel_requested.is_(False),
        TestRun.kind.not_in(list(NEVER_EXECUTED)),
    )
    return or_(queued, expired)


async def claim_next_run(
    sessionmaker: async_sessionmaker[AsyncSession], worker_id: str, lease_s: float
) -> Claim | None:
    """Take the oldest claimable run, or None when there is nothing to do."""
    # Idle workers poll often: look without a write lock first (SQLite has only one).
    async with transaction(sessionmaker, write=False) as session:
        waiting = select(TestRun.id).where(_claimable(utcnow())).limit(1)  # type: ignore[arg-type]
        if (await session.execute(waiting)).first() is None:
            return None
    async with transaction(sessionmaker) as session:
        now = utcnow()
        candidates = (
            select(TestRun.id, TestRun.attempt)
            .where(_claimable(now))  # type: ignore[arg-type]
            .order_by(TestRun.created_at, TestRun.id)
            .limit(1)
        )
        if not is_sqlite(session):
            candidates = candidates.with_for_update(skip_locked=True)
        row = (await session.execute(candidates)).first()
        if row is None:
            return None
        run_id, seen_attempt = row
        attempt = seen_attempt + 1
        result = await session.execute(
            update(TestRun)
            .where(
                TestRun.id == run_id,
                TestRun.attempt == seen_attempt,
                _claimable(now),  # type: ignore[arg-type]
            )
            .values(
                status="running",
                worker_id=worker_id,
                attempt=attempt,
                lease_expires_at=now + timedelta(seconds=lease_s),
                heartbeat_at=now,
                started_at=now,
                error=None,
            )
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return None
        # A shard's sharded run is running from its first shard on.
        parent = select(TestRun.parent_id).where(TestRun.id == run_id).scalar_subquery()
        await session.execute(
            update(TestRun)
            .where(TestRun.id == parent, TestRun.status == "queued")
            .values(status="running", started_at=now)
            .execution_options(synchronize_session=False)
        )
        return Claim(run_id, worker_id, attempt)


def owned(claim: Claim) -> object:
    """The run is still this claim's: its worker, at its attempt, running."""
    return and_(
        TestRun.id == claim.run_id,
        TestRun.worker_id == claim.worker_id,
        TestRun.attempt == claim.attempt,
        TestRun.status == "running",
    )


async def renew_lease(
    sessionmaker: async_sessionmaker[AsyncSession], claim: Claim, lease_s: float
) -> LeaseState:
    """Extend the lease if we still own the run; report whether a cancel was requested."""
    async with transaction(sessionmaker) as session:
        now = utcnow()
        result = await session.execute(
            update(TestRun)
            .where(owned(claim))  # type: ignore[arg-type]
            .values(lease_expires_at=now + timedelta(seconds=lease_s), heartbeat_at=now)
            .execution_options(synchronize_session=False)
        )
        owner = result.rowcount == 1  # type: ignore[attr-defined]
        cancel = (
            await session.execute(
                select(TestRun.cancel_requested).where(TestRun.id == claim.run_id)
            )
        ).scalar_one_or_none()
        return LeaseState(owner, bool(cancel))


async def read_lease(sessionmaker: async_sessionmaker[AsyncSession], claim: Claim) -> LeaseState:
    """The cheap read between renewals: still ours, and has someone asked to cancel?"""
    async with transaction(sessionmaker, write=False) as session:
        row = (
            await session.execute(
                select(
                    TestRun.worker_id, TestRun.attempt, TestRun.status, TestRun.cancel_requested
                ).where(TestRun.id == claim.run_id)
            )
        ).first()
    if row is None:
        return LeaseState(False, True)
    worker_id, attempt, status, cancel = row
    owner = worker_id == claim.worker_id and attempt == claim.attempt and status == "running"
    return LeaseState(owner, bool(cancel))


async def mark_finished(
    session: AsyncSession,
    claim: Claim,
    *,
    status: str,
    error: str | None,
    results: dict[str, object] | None,
) -> str | None:
    """Fenced finish inside the caller's transaction; the stored status, or None if not ours.

    A cancel requested while running wins over whatever the run produced.
    """
    cancel = (
        await session.execute(select(TestRun.cancel_requested).where(TestRun.id == claim.run_id))
    ).scalar_one_or_none()
    if cancel:
        status, error = "cancelled", "Run cancelled"
    result = await session.execute(
        update(TestRun)
        .where(owned(claim))  # type: ignore[arg-type]
        .values(
            status=status,
            error=error,
            results=results,
            completed_at=utcnow(),
            lease_expires_at=None,
        )
        .execution_options(synchronize_session=False)
    )
    return status if result.rowcount == 1 else None  # type: ignore[attr-defined]


async def release_claim(sessionmaker: async_sessionmaker[AsyncSession], claim: Claim) -> None:
    """Give a run back to the queue on a graceful stop; the attempt is not counted."""
    async with transaction(sessionmaker) as session:
        await session.execute(
            update(TestRun)
            .where(owned(claim))  # type: ignore[arg-type]
            .values(
                status="queued",
                worker_id=None,
                attempt=claim.attempt - 1,
                lease_expires_at=None,
                heartbeat_at=None,
            )
            .execution_options(synchronize_session=False)
        )


async def reap_abandoned_runs(sessionmaker: async_sessionmaker[AsyncSession]) -> list[uuid.UUID]:
    """End runs whose worker died for good: out of attempts → error; cancel requested → cancelled.

    Expired runs with attempts left are not touched here: ``claim_next_run`` takes them again.
    """
    async with transaction(sessionmaker, write=False) as session:
        expired = and_(TestRun.status == "running", TestRun.lease_expires_at < utcnow())
        if (await session.execute(select(TestRun.id).where(expired).limit(1))).first() is None:
            return []
    async with transaction(sessionmaker) as session:
        now = utcnow()
        expired = and_(TestRun.status == "running", TestRun.lease_expires_at < now)
        rows = (
            await session.execute(
                select(TestRun.id, TestRun.attempt, TestRun.max_attempts, TestRun.cancel_requested)
                .where(expired)
                .where(
                    or_(
                        TestRun.cancel_requested.is_(True),
                        TestRun.attempt >= TestRun.max_attempts,
                    )
                )
                .limit(100)
            )
        ).all()
        ended = []
        for run_id, attempt, max_attempts, cancel in rows:
            if cancel:
                status, error = "cancelled", "Run cancelled"
            else:
                status = "error"
                error = (
                    f"The worker running this test stopped responding on attempt {attempt} of "
                    f"{max_attempts} (lease expired); giving up"
                )
            result = await session.execute(
                update(TestRun)
                .where(TestRun.id == run_id, TestRun.attempt == attempt, expired)
                .values(status=status, error=error, completed_at=now, lease_expires_at=None)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount == 1:  # type: ignore[attr-defined]
                ended.append(run_id)
                parent = await merge_shards(session, run_id)
                if parent is not None:
                    ended.append(parent)
        return ended
