"""Suite runs: a selection of the project's tree pinned at one snapshot, optionally sharded,
merged back into one run; results imported from another CI as JUnit XML.

A sharded run is a parent row no worker claims (``RunKind.SHARDED``) and N shard rows that are
queue jobs like any run (claimed with a lease, retried when their worker dies). Each shard
collects the same selection and keeps its part (``shards.plan_shards``); when the last shard
ends, the parent gets every shard's tests and a status saying which shard did what
(``shard_merge``).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from scriptflow.config import Settings
from scriptflow.errors import ValidationFailed
from scriptflow.projects.repository import ProjectRepository
from scriptflow.projects.roles import Role
from scriptflow.projects.service import require_role
from scriptflow.runs.browsers import resolve_browser
from scriptflow.runs.egress import blocked_reason
from scriptflow.runs.models import (
    RunKind,
    TestRun,
)
from scriptflow.runs.repository import RunRepository
from scriptflow.runs.selection import Selection, build_selection, entry_path
from scriptflow.runs.shards import MAX_DURATIONS, MAX_SHARDS
from scriptflow.scripts.repository import ScriptRepository

MAX_RETRIES = 5
MAX_TIMEOUT_S = 3600
# Recent runs whose test durations balance the next sharded run.
DURATION_HISTORY_RUNS = 20
# Traces of a suite or shard run: only a failing test's (a retried one's first attempt too),
# as Playwright advises for CI: a passing test's trace is rarely opened, and a zip per test
# costs each test's end and the artifact store's space. A file run keeps every context's.
SUITE_TRACE = "retain-on-failure"


def _invalid(field: str, message: str, **details: object) -> ValidationFailed:
    return ValidationFailed.for_field(field, message, message=message, **details)


@dataclass(frozen=True)
class PinnedTree:
    """Every file of a project at one moment: ``{path: [script_id, version]}``."""

    files: dict[str, list[Any]]

    @property
    def paths(self) -> list[str]:
        return list(self.files)


async def pin_tree(
    session: AsyncSession, project_id: uuid.UUID, overrides: Mapping[uuid.UUID, int] | None = None
) -> PinnedTree:
    """The project's files at their current versions (``overrides``: a file at another one)."""
    chosen = dict(overrides or {})
    files = {
        script.path: [str(script.id), chosen.get(script.id, script.version)]
        for script in await ScriptRepository(session).tree(project_id, drafts=tuple(chosen))
    }
    return PinnedTree(files)


async def load_tree(session: AsyncSession, snapshot: Mapping[str, Any]) -> dict[str, str] | None:
    """The contents of a pinned tree, or None when a pinned version is gone."""
    scripts = ScriptRepository(session)
    files: dict[str, str] = {}
    for path, (script_id, version) in snapshot.items():
        content = await scripts.content_at(uuid.UUID(str(script_id)), int(version))
        if content is None:
            return None
        files[path] = content
    return files


async def load_run_tree(
    session: AsyncSession, run: TestRun
) -> tuple[dict[str, str] | None, tuple[str, ...], dict[str, Any] | None] | None:
    """What a claimed run executes when it has a pinned tree: (files, pytest selection, shard);
    files is None when a pinned version is gone. None for a run from before trees."""
    if not run.snapshot:
        return None
    files = await load_tree(session, run.snapshot)
    return files, tuple(selection_of(run).pytest_args()), shard_of(run)


def test_file(nodeid: str) -> str | None:
    """The tree path a node id belongs to (``tests/test_a.py::test_x`` → ``tests/test_a.py``)."""
    return entry_path(nodeid) if "::" in nodeid else None


async def check_run_target(
    session: AsyncSession, settings: Settings, project_id: uuid.UUID, environment: str, browser: str
) -> tuple[uuid.UUID, str, str]:
    """The environment's (id, name, base URL) a run may reach with `browser`, or a 422 naming
    the known environments, the missing browser or the private address it points at."""
    projects = ProjectRepository(session)
    env = await projects.environment_by_name(project_id, environment)
    if env is None:
        known = [e.name for e in await projects.environments(project_id)]
        listed = ", ".join(known) if known else "none; create one first"
        raise _invalid(
            "environment",
            f"Unknown environment {environment!r}; known: {listed}",
            known_environments=known,
        )
    resolve_browser(settings, browser)
    if not settings.private_egress_allowed:
        reason = await asyncio.to_thread(blocked_reason, env.base_url)
        if reason:
            raise _invalid(
                "environment",
                f"Environment {env.name!r} points at a private network ({reason}); this server "
                "does not let runs reach private addresses",
            )
    return env.id, env.name, env.base_url


async def create_suite_run(
    session: AsyncSession,
    user_id: uuid.UUID,
    settings: Settings,
    *,
    project_id: uuid.UUID,
    environment: str,
    browser: str,
    select: Sequence[str] | None = None,
    keyword: str | None = None,
    markers: str | None = None,
    shards: int = 1,
    retries: int = 0,
    timeout_s: int | None = None,
    trigger: str = "manual",
    snapshot: Mapping[str, Any] | None = None,
) -> TestRun:
    """Queue a run of a selection (or the whole suite) of the project's tree, pinned now (or
    at ``snapshot``, another run's); with ``shards`` > 1 a parent run and that many shard runs
    balanced by recent durations."""
    await require_role(session, user_id, project_id, Role.EDITOR)
    env_id, env_name, base_url = await check_run_target(
        session, settings, project_id, environment, browser
    )
    if not 0 <= retries <= MAX_RETRIES:
        raise _invalid("retries", f"retries must be between 0 and {MAX_RETRIES}")
    timeout = settings.run_timeout_s if timeout_s is None else timeout_s
    if not 5 <= timeout <= MAX_TIMEOUT_S:
        raise _invalid("timeout_s", f"timeout_s must be between 5 and {MAX_TIMEOUT_S}")
    if not 1 <= shards <= MAX_SHARDS:
        raise _invalid("shards", f"shards must be between 1 and {MAX_SHARDS}")
    tree = (
        PinnedTree(dict(snapshot)) if snapshot is not None else await pin_tree(session, project_id)
    )
    if not tree.files:
        raise _invalid("project_id", "The project has no files to run; import or push some")
    selection = build_selection(select, keyword, markers, tree.paths)
    common: dict[str, Any] = {
        "project_id": project_id,
        "environment_id": env_id,
        "environment": env_name,
        "base_url": base_url,
        "browser": browser,
        "retries": retries,
        "timeout_s": timeout,
        "attempt": 0,
        "max_attempts": settings.run_max_attempts,
        "cancel_requested": False,
        "trigger": trigger,
        "created_by": user_id,
        "snapshot": tree.files,
    }
    if shards == 1:
        run = TestRun(kind=RunKind.SUITE, status="queued", selection=selection.as_dict(), **common)
        session.add(run)
        await session.flush()
        return run
    durations = await RunRepository(session).recent_durations(
        project_id, DURATION_HISTORY_RUNS, MAX_DURATIONS
    )
    parent = TestRun(
        kind=RunKind.SHARDED,
        status="queued",
        shard_count=shards,
        selection=selection.as_dict(),
        **common,
    )
    session.add(parent)
    await session.flush()
    for index in range(shards):
        session.add(
            TestRun(
                kind=RunKind.SHARD,
                status="queued",
                parent_id=parent.id,
                shard_index=index,
                shard_count=shards,
                selection={**selection.as_dict(), "durations": durations},
                **common,
            )
        )
    await session.flush()
    return parent


class Suspicion(Protocol):
    """A new flaky suspicion about one file (an insight), as confirmation reruns read it."""

    @property
    def type(self) -> str: ...

    @property
    def script_id(self) -> uuid.UUID | None: ...

    @property
    def details(self) -> dict[str, Any]: ...


async def suspected_node_ids(
    session: AsyncSession, run: TestRun, suspicions: Sequence[Suspicion]
) -> list[str]:
    """The tests of a suite or shard run that a confirmation reruns: the flaky tests the
    suspicions name by node id, and the tests that acted on a flaky selector in its file."""
    runs = RunRepository(session)
    tests = await runs.node_tests(run.id)
    in_run = {nodeid for _, nodeid, _ in tests}
    paths = {str(entry[0]): path for path, entry in (run.snapshot or {}).items() if entry}
    wanted: set[str] = set()
    for suspicion in suspicions:
        if suspicion.type == "flaky-test" and suspicion.details.get("test") in in_run:
            wanted.add(str(suspicion.details["test"]))
        elif suspicion.type == "flaky-selector":
            file = paths.get(str(suspicion.script_id))
            used = await runs.tests_acting_on(run.id, suspicion.details.get("locator"))
            wanted |= {n for ident, n, f in tests if ident in used and f == file and n}
    return sorted(wanted)


async def queue_suite_confirmation(
    session: AsyncSession, settings: Settings, run: TestRun, suspicions: Sequence[Suspicion]
) -> TestRun | None:
    """One isolated rerun of only the suspected tests of a suite or shard run: the same
    snapshot, environment and browser, no retries. None when no test of the run is suspected.

    Insights are refreshed file by file, and a sharded run's shards end one by one, so the
    suspicions of one run arrive in several calls: a call whose tests a still queued rerun of
    the same run (a shard's: of its sharded run) lacks adds them to it, so one run gets one
    rerun (one per requested confirmation), not one per file or shard. A rerun of a sharded
    run is sharded as it was, with at most one shard per suspected test.
    """
    if run.created_by is None or run.kind not in (RunKind.SUITE, RunKind.SHARD):
        return None
    node_ids = await suspected_node_ids(session, run, suspicions)
    if not node_ids or not run.snapshot:
        return None
    source = run.parent_id if run.kind == RunKind.SHARD and run.parent_id else run.id
    for pending in await RunRepository(session).queued_confirmations(run.project_id, source):
        if await _add_to_rerun(session, pending, node_ids):
            return pending
    shards = min(run.shard_count, len(node_ids)) if run.kind == RunKind.SHARD else 1
    rerun = await create_suite_run(
        session,
        run.created_by,
        settings,
        project_id=run.project_id,
        environment=run.environment,
        browser=run.browser,
        select=node_ids,
        shards=max(shards, 1),
        retries=0,
        timeout_s=run.timeout_s,
        trigger="confirmation",
        snapshot=run.snapshot,
    )
    rerun.selection = {**(rerun.selection or {}), "confirms": str(source)}
    await session.flush()
    return rerun


async def _add_to_rerun(session: AsyncSession, rerun: TestRun, node_ids: Sequence[str]) -> bool:
    """Add ``node_ids`` to a queued rerun (and to its shards) that lacks some of them; False
    when it has them all already or a worker has claimed it (or a shard of it) meanwhile."""
    selected = list((rerun.selection or {}).get("select") or [])
    if set(node_ids) <= set(selected):
        return False
    merged = sorted({*selected, *node_ids})
    runs = RunRepository(session)
    members = [rerun, *(await runs.shards(rerun.id))] if rerun.kind == RunKind.SHARDED else [rerun]
    selections = {m.id: {**(m.selection or {}), "select": merged} for m in members}
    return await runs.reselect_queued(selections)


def selection_of(run: TestRun) -> Selection:
    """The validated selection stored with a run (validated again: it is read back)."""
    stored = run.selection or {}
    entries = stored.get("select") or []
    return build_selection(entries, stored.get("k"), stored.get("markers"), (run.snapshot or {}))


def shard_of(run: TestRun) -> dict[str, Any] | None:
    """What a shard's plugin needs to keep its part."""
    if run.kind != RunKind.SHARD or run.shard_index is None:
        return None
    durations = (run.selection or {}).get("durations") or {}
    return {"index": run.shard_index, "count": run.shard_count, "durations": durations}
