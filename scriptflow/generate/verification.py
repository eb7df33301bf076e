"""Verification: a generated module's runs, waited for; `proposed` when every one passed.

The runs are ordinary queued runs of the draft's version 0 (sandboxed, traced); the wait polls
them in short read-only units of work, so it holds no lock while they execute, and finishing
is conditional on the change set still being `generating`.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scriptflow.changesets.models import ChangesetStatus
from scriptflow.config import Settings
from scriptflow.db.engine import transaction
from scriptflow.generate.repository import GenerationRepository
from scriptflow.runs.models import TERMINAL_STATUSES, RunStatus
from scriptflow.runs.repository import RunRepository

log = logging.getLogger("scriptflow.generate")

VERIFY_POLL_S = 0.5
# Queue wait on top of each run's own timeout before the verification gives up.
VERIFY_SLACK_S = 120


async def verify_generated(
    sessionmaker: async_sessionmaker[AsyncSession],
    changeset_id: uuid.UUID,
    *,
    settings: Settings,
    poll_s: float = VERIFY_POLL_S,
) -> None:
    """Wait for the verification runs; `proposed` if all passed, else `failed` with why."""
    try:
        async with transaction(sessionmaker, write=False) as session:
            changeset = await GenerationRepository(session).get(changeset_id)
            if changeset is None or changeset.status != ChangesetStatus.GENERATING:
                return
            run_ids = [uuid.UUID(r) for r in (changeset.verification or {}).get("run_ids", [])]
        deadline = time.monotonic() + settings.run_timeout_s * max(len(run_ids), 1) + VERIFY_SLACK_S
        finished: dict[uuid.UUID, tuple[str, int, str | None]] = {}
        while len(finished) < len(run_ids):
            async with transaction(sessionmaker, write=False) as session:
                runs = RunRepository(session)
                for run_id in run_ids:
                    if run_id in finished:
                        continue
                    run = await runs.get(run_id)
                    if run is None:
                        finished[run_id] = ("error", 0, "the run was deleted")
                    elif run.status in TERMINAL_STATUSES:
                        finished[run_id] = (run.status, _duration(run.results), run.error)
            if len(finished) < len(run_ids):
                if time.monotonic() > deadline:
                    await _fail(sessionmaker, changeset_id, "The verification runs did not finish")
                    return
                await asyncio.sleep(poll_s)
        outcomes = [finished[run_id] for run_id in run_ids]
        passed = sum(1 for status, _, _ in outcomes if status == RunStatus.PASSED)
        verification = {
            "runs": len(run_ids),
            "passed": passed,
            "run_ids": [str(r) for r in run_ids],
            "durations_ms": [duration for _, duration, _ in outcomes],
        }
        if passed == len(run_ids):
            async with transaction(sessionmaker) as session:
                await GenerationRepository(session).finish(
                    changeset_id, status=ChangesetStatus.PROPOSED, verification=verification
                )
            return
        first_error = next((e for s, _, e in outcomes if s != RunStatus.PASSED and e), "")
        await _fail(
            sessionmaker,
            changeset_id,
            f"{passed} of {len(run_ids)} verification runs passed; a generated test must pass "
            f"every one. First failure: {first_error}"[:4000],
            verification=verification,
        )
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("verifying generated change set %s failed", changeset_id)
        await _fail(sessionmaker, changeset_id, "Verification stopped on an internal error")


async def waiting_verifications(sessionmaker: async_sessionmaker[AsyncSession]) -> list[uuid.UUID]:
    """Change sets whose verification wait a stopped server left behind (to resume it)."""
    async with transaction(sessionmaker, write=False) as session:
        return await GenerationRepository(session).generating_ids()


async def _fail(
    sessionmaker: async_sessionmaker[AsyncSession],
    changeset_id: uuid.UUID,
    reason: str,
    **values: Any,
) -> None:
    async with transaction(sessionmaker) as session:
        await GenerationRepository(session).finish(
            changeset_id, status=ChangesetStatus.FAILED, failure_reason=reason, **values
        )


def _duration(results: Mapping[str, Any] | None) -> int:
    value = (results or {}).get("duration_ms", 0)
    return value if isinstance(value, int) else 0
