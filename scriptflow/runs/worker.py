"""The worker loop: claim a run, execute it under a heartbeat, store the results, fenced."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import socket
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scriptflow import events
from scriptflow.config import Settings
from scriptflow.db.engine import transaction
from scriptflow.errors import ScriptflowError
from scriptflow.runs import outbox
from scriptflow.runs.artifacts import store_folder
from scriptflow.runs.browsers import resolve_browser
from scriptflow.runs.details import store_details
from scriptflow.runs.events import RunFinished, run_status_changes
from scriptflow.runs.executor import (
    ExecutionResult,
    Executor,
    RunRequest,
    SubprocessExecutor,
)
from scriptflow.runs.isolation import choose_isolation
from scriptflow.runs.progress.service import publishing_progress
from scriptflow.runs.queue import (
    Claim,
    claim_next_run,
    mark_finished,
    read_lease,
    reap_abandoned_runs,
    release_claim,
    renew_lease,
)
from scriptflow.runs.repository import RunRepository
from scriptflow.runs.results import locator_hints_document, results_document
from scriptflow.runs.shard_merge import merge_shards
from scriptflow.runs.suites import SUITE_TRACE, load_run_tree
from scriptflow.runs.triage import classify_run
from scriptflow.scripts.repository import ScriptRepository
from scriptflow.storage.artifact_store import publish_run_artifacts

__all__ = ["RunWorker", "locator_hints_document", "results_document"]

log = logging.getLogger("scriptflow.runs")

IDLE_POLL_S = 0.2
CANCEL_CHECK_S = 1.0


def run_folder(data_dir: Path, run_id: uuid.UUID, attempt: int) -> Path:
    """Where an attempt of a run does its work. One folder per attempt: a worker whose lease
    ran out may take the same run again while its first attempt still runs, and clearing a
    shared folder for the second attempt deleted the first one's files under it."""
    return data_dir / "runs" / str(run_id) / f"attempt-{attempt}"


def new_worker_id(index: int = 0) -> str:
    """Unique across machines and restarts: host, pid, slot and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{index}:{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True)
class Announcement:
    """A finished run for the handlers, and its outbox entry to mark once they ran."""

    event: RunFinished
    entry_id: uuid.UUID | None = None


@dataclass(frozen=True)
class RunPlan:
    """What a claimed run asks for, read once at the start of an attempt."""

    run_id: uuid.UUID
    project_id: uuid.UUID
    script_id: uuid.UUID | None
    trigger: str
    script: str | None
    base_url: str
    browser: str
    retries: int
    timeout_s: int
    # A tree's run: its files at the pinned snapshot, pytest's selection, the shard's part.
    files: dict[str, str] | None = None
    selection: tuple[str, ...] = ()
    shard: dict[str, Any] | None = None


class NotOurs(Exception):
    """The run was taken over (lease lost) before we could store the results."""


class RunWorker:
    """One execution slot; several run side by side in a pool or a `scriptflow worker`."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        *,
        executor: Executor | None = None,
        worker_id: str | None = None,
        wakeup: asyncio.Event | None = None,
        finished: asyncio.Queue[Announcement] | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.settings = settings
        # Isolation is chosen once: in production a missing sandbox stops the worker here.
        self.executor: Executor = executor or SubprocessExecutor(
            isolation_mode=choose_isolation(settings)
        )
        self.worker_id = worker_id or new_worker_id()
        self.wakeup = wakeup
        # With a queue, hooks run elsewhere (the pool) and never delay the next claim.
        self.finished = finished
        self._last_reap = 0.0

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Work until ``stop`` is set; database hiccups are logged and retried."""
        while not stop.is_set():
            try:
                worked = await self.run_once()
            except Exception:
                log.exception("worker %s: loop error", self.worker_id)
                worked = False
                await _sleep_or(stop, 1.0)
            if not worked:
                await self._idle(stop)

    async def _idle(self, stop: asyncio.Event) -> None:
        waiters = [asyncio.ensure_future(stop.wait())]
        if self.wakeup is not None:
            waiters.append(asyncio.ensure_future(self.wakeup.wait()))
        try:
            await asyncio.wait(waiters, timeout=IDLE_POLL_S, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
        if self.wakeup is not None:
            self.wakeup.clear()

    async def run_once(self) -> bool:
        """Claim and execute at most one run; False when the queue was empty."""
        if time.monotonic() - self._last_reap > self.settings.run_reap_every_s:
            self._last_reap = time.monotonic()
            for run_id in await reap_abandoned_runs(self.sessionmaker):
                await self._notify(run_id)
            # Finished runs whose worker died before dispatching their handlers.
            for entry_id, run_id in await outbox.claim_abandoned(
                self.sessionmaker, outbox.claim_seconds(self.settings)
            ):
                await self._notify(run_id, entry_id)
        claim = await claim_next_run(self.sessionmaker, self.worker_id, self.settings.run_lease_s)
        if claim is None:
            return False
        run_status_changes.publish(claim.run_id)
        try:
            await self._execute(claim)
        except asyncio.CancelledError:
            # Graceful stop: the process group is already killed; let another worker take it.
            with contextlib.suppress(Exception):
                await asyncio.shield(release_claim(self.sessionmaker, claim))
            raise
        return True

    async def _execute(self, claim: Claim) -> None:
        plan = await self._load_plan(claim)
        if plan.script is None and plan.files is None:
            await self._finish(claim, plan, _failure("error", "The pinned script version is gone"))
            return
        try:
            browser = resolve_browser(self.settings, plan.browser)
        except ScriptflowError as exc:
            await self._finish(claim, plan, _failure("error", exc.message))
            return
        folder = run_folder(self.settings.data_dir, claim.run_id, claim.attempt)
        await asyncio.to_thread(shutil.rmtree, folder, True)
        request = RunRequest(
            script=plan.script or "",
            files=plan.files or {},
            selection=plan.selection,
            shard=plan.shard,
            base_url=plan.base_url,
            browser=browser,
            workdir=folder,
            timeout_s=plan.timeout_s,
            retries=plan.retries,
            memory_mb=self.settings.run_memory_mb,
            artifact_max_bytes=self.settings.artifact_max_bytes,
            block_private_egress=not self.settings.private_egress_allowed,
            artifact_store=store_folder(self.settings.data_dir, claim.run_id),
            egress_allow=self.settings.run_egress_allow,
            egress_mode=self.settings.run_egress,
            max_processes=self.settings.run_max_processes,
            max_open_files=self.settings.run_max_open_files,
            max_file_bytes=self.settings.run_max_file_mb * 1024 * 1024,
            tmp_mb=self.settings.run_tmp_mb,
            shm_mb=self.settings.run_shm_mb,
            nice=self.settings.run_nice,
            # A suite or shard run (no one script) keeps the traces of failing tests only.
            trace="on" if plan.script_id is not None else SUITE_TRACE,
        )
        cancel = asyncio.Event()
        lost = asyncio.Event()
        monitor = asyncio.create_task(self._watch_lease(claim, cancel, lost))
        try:
            # The live run page's steps: the run's progress file, tailed into run_events.
            # Its last lines are read before the executor clears the work dir, and published.
            async with publishing_progress(
                self.sessionmaker,
                claim.run_id,
                claim.attempt,
                folder / "work",
                held_by=claim.worker_id,
            ) as progress:
                request = replace(request, before_clear=progress.read_rest)
                result = await self.executor.execute(request, cancel)
        finally:
            monitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await monitor
            # The attempt's folder is scratch once its artifacts are in the store; the run's
            # folder above it goes with its last attempt.
            await asyncio.to_thread(shutil.rmtree, folder, True)
            with contextlib.suppress(OSError):
                await asyncio.to_thread(folder.parent.rmdir)
        if lost.is_set():
            log.warning("worker %s lost run %s; results dropped", self.worker_id, claim.run_id)
            return
        # Into the deployment's store before the run reads as finished: any API serves them.
        await publish_run_artifacts(self.settings, claim.run_id, result.artifacts)
        await self._finish(claim, plan, result)

    async def _watch_lease(self, claim: Claim, cancel: asyncio.Event, lost: asyncio.Event) -> None:
        """Heartbeat every third of the lease; check for cancel requests every second."""
        renew_every = max(self.settings.run_lease_s / 3, CANCEL_CHECK_S)
        last_renew = time.monotonic()
        while True:
            await asyncio.sleep(CANCEL_CHECK_S)
            try:
                if time.monotonic() - last_renew >= renew_every:
                    state = await renew_lease(self.sessionmaker, claim, self.settings.run_lease_s)
                    last_renew = time.monotonic()
                else:
                    state = await read_lease(self.sessionmaker, claim)
            except Exception:
                log.exception("worker %s: heartbeat failed", self.worker_id)
                continue
            if not state.still_owner:
                lost.set()
                cancel.set()
                return
            if state.cancel_requested:
                cancel.set()

    async def _load_plan(self, claim: Claim) -> RunPlan:
        async with transaction(self.sessionmaker, write=False) as session:
            run = await RunRepository(session).get_one(claim.run_id)
            tree = await load_run_tree(session, run)
            content = None
            if tree is None and run.script_id is not None and run.script_version is not None:
                content = await ScriptRepository(session).content_at(
                    run.script_id, run.script_version
                )
            return RunPlan(
                run.id,
                run.project_id,
                run.script_id,
                run.trigger,
                content,
                run.base_url,
                run.browser,
                run.retries,
                run.timeout_s,
                *(tree or (None, (), None)),
            )

    async def _finish(self, claim: Claim, plan: RunPlan, result: ExecutionResult) -> None:
        results = results_document(result, claim.attempt)
        try:
            async with transaction(self.sessionmaker) as session:
                status = await mark_finished(
                    session, claim, status=result.status, error=result.error, results=results
                )
                if status is None:
                    raise NotOurs
                await store_details(session, claim.run_id, result, self.settings.data_dir)
                await classify_run(session, claim.run_id)
                merged = await merge_shards(session, claim.run_id)
                # The events go in with the final status: dispatching them after the commit can
                # be interrupted, forgetting them cannot (``runs.outbox``).
                lease = outbox.claim_seconds(self.settings)
                entry = outbox.add_entry(session, claim.run_id, lease)
                merged_entry = outbox.add_entry(session, merged, lease) if merged else None
        except NotOurs:
            log.warning("worker %s: run %s is no longer ours", self.worker_id, claim.run_id)
            return
        outbox.fault_point("after-run-commit")
        run_status_changes.publish(claim.run_id)
        await self._announce(
            RunFinished(plan.run_id, plan.project_id, plan.script_id, status, plan.trigger), entry
        )
        if merged is not None:
            await self._notify(merged, merged_entry)

    async def _announce(self, event: RunFinished, entry_id: uuid.UUID | None = None) -> None:
        if self.finished is not None:
            self.finished.put_nowait(Announcement(event, entry_id))
        else:
            await events.dispatch(self.sessionmaker, event)
            if entry_id is not None:
                await outbox.mark_dispatched(self.sessionmaker, [entry_id])

    async def _notify(self, run_id: uuid.UUID, entry_id: uuid.UUID | None = None) -> None:
        run_status_changes.publish(run_id)
        async with transaction(self.sessionmaker, write=False) as session:
            run = await RunRepository(session).get(run_id)
        if run is not None:
            event = RunFinished(run.id, run.project_id, run.script_id, run.status, run.trigger)
            await self._announce(event, entry_id)


def _failure(status: str, error: str) -> ExecutionResult:
    return ExecutionResult(status, error, (), (), 0, None)


async def _sleep_or(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
