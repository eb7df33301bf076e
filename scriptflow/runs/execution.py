"""What one execution is asked to do and what it reports: plain data, and how the plugin's
record plus the process's fate become a result (pure, apart from reading the record)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from scriptflow.runs import artifacts as artifact_store
from scriptflow.runs.browsers import BrowserTarget


@dataclass(frozen=True)
class RunRequest:
    """Everything one execution needs; plain data, no database rows."""

    script: str
    base_url: str
    browser: BrowserTarget
    workdir: Path
    timeout_s: float = 300
    retries: int = 0
    memory_mb: int = 2048
    artifact_max_bytes: int = 50 * 1024 * 1024
    trace: str = "on"
    action_timeout_ms: int | None = None
    block_private_egress: bool = False
    # Legacy sandbox only: Landlock where the kernel has it (see scriptflow.runs.sandbox).
    filesystem_sandbox: bool = True
    # Where collected artifacts go; the run never sees it (default: beside its folders).
    artifact_store: Path | None = None
    egress_allow: str = ""  # SCRIPTFLOW_RUN_EGRESS_ALLOW
    egress_mode: str = "public"  # or origin-only
    max_processes: int = 512
    max_open_files: int = 4096
    max_file_bytes: int = 512 * 1024 * 1024
    tmp_mb: int = 512
    shm_mb: int = 64
    # The run's CPU priority (nice, 0-19; SCRIPTFLOW_RUN_NICE, 10 by default, for the worker):
    # test runs are batch work, so a burst of them leaves the CPU to the API, the workers'
    # bookkeeping and the analytics writer first. 0 here: an executor used directly asks.
    nice: int = 0
    # The project's files at the run's pinned snapshot (tree path -> content). Empty: the
    # script alone, as ``test_script.py`` (a run of a lone script, as before trees).
    files: Mapping[str, str] = field(default_factory=dict)
    # Validated pytest arguments after our own options: node ids, paths, ``-k``/``-m``
    # (see ``selection.Selection.pytest_args``); empty with files = the whole suite.
    selection: tuple[str, ...] = ()
    # This shard's place in a sharded run and the durations the plan balances on
    # ({"index", "count", "durations"}; see ``shards.plan_shards``).
    shard: Mapping[str, Any] | None = None
    # Called (blocking, in a thread) once the run process has ended and before its work dir is
    # cleared: the worker reads the progress lines it has not published yet.
    before_clear: Callable[[], None] | None = None


@dataclass(frozen=True)
class StepResult:
    attempt: int
    action: str
    locator: str | None
    duration_ms: int
    outcome: str
    error: str | None = None


@dataclass(frozen=True)
class TestResult:
    __test__ = False  # not a pytest class

    name: str
    outcome: str  # passed | failed | flaky | skipped | error
    duration_ms: int
    attempts: int
    error: str | None
    steps: tuple[StepResult, ...] = ()
    nodeid: str = ""  # as pytest names it: tests/test_cart.py::test_total[chromium]


@dataclass(frozen=True)
class ArtifactFile:
    name: str
    kind: str  # trace | screenshot | console | log
    content_type: str
    size_bytes: int
    path: Path
    truncated: bool = False


@dataclass(frozen=True)
class ExecutionResult:
    status: str  # passed | failed | error | cancelled
    error: str | None
    tests: tuple[TestResult, ...]
    artifacts: tuple[ArtifactFile, ...]
    duration_ms: int
    exit_code: int | None
    timed_out: bool = False
    omitted_artifacts: tuple[str, ...] = field(default_factory=tuple)
    # selector as written → {"aria_snapshot", "test_id"?}, seen before its first action
    locator_hints: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    isolation: str = ""  # how the run was confined (says so when it was the weaker sandbox)
    egress_refused: tuple[Mapping[str, object], ...] = ()  # {host, port, reason}
    # Allowed destinations the egress proxy could not connect to (failure triage reads them).
    unreachable: tuple[Mapping[str, object], ...] = ()  # {host, port, reason}

    def summary(self) -> dict[str, Any]:
        """The counts a client shows first."""
        counts = {o: 0 for o in ("passed", "failed", "flaky", "skipped", "error")}
        for test in self.tests:
            counts[test.outcome] = counts.get(test.outcome, 0) + 1
        return {"total": len(self.tests), **counts}


class Executor(Protocol):
    """Runs one request; ``cancel`` being set means stop now and report ``cancelled``."""

    async def execute(self, request: RunRequest, cancel: asyncio.Event) -> ExecutionResult: ...


MAX_RESULTS_BYTES = 32 * 1024 * 1024


def read_results(folder: Path) -> dict[str, Any]:
    """What the plugin wrote last (never following a link the run put there); empty if it
    never got that far."""
    content = artifact_store.read_run_file(folder, "results.json", MAX_RESULTS_BYTES)
    try:
        data = json.loads(content) if content else {}
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def interpret(
    raw: Mapping[str, Any],
    *,
    exit_code: int | None,
    timed_out: bool,
    cancelled: bool,
    timeout_s: float,
    artifacts: tuple[ArtifactFile, ...] = (),
    duration_ms: int,
) -> ExecutionResult:
    """Turn the plugin's record and the process's fate into a result (pure)."""
    interrupted = "cancelled" if cancelled else f"timed out after {timeout_s:g} s"
    tests = []
    for t in _list(raw.get("tests")):
        if not isinstance(t, Mapping) or not isinstance(t.get("name"), str):
            continue
        outcome, error = t.get("outcome", "error"), t.get("error")
        if outcome == "running":
            outcome = "failed" if timed_out else ("skipped" if cancelled else "error")
            error = f"Test {interrupted}" if (timed_out or cancelled) else "Run process died"
        steps = tuple(StepResult(**s) for s in _list(t.get("steps")))
        tests.append(
            TestResult(
                t["name"],
                outcome,
                t.get("duration_ms", 0),
                t.get("attempts", 1),
                error,
                steps,
                str(t.get("nodeid") or "")[:1000],
            )
        )
    status, error = _status(tests, raw, exit_code, timed_out, cancelled, interrupted)
    return ExecutionResult(
        status,
        error,
        tuple(tests),
        artifacts,
        duration_ms,
        exit_code,
        timed_out,
        tuple(str(note) for note in _list(raw.get("omitted_artifacts"))),
        dict(raw.get("locator_hints") or {}),
    )


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _status(
    tests: list[TestResult],
    raw: Mapping[str, Any],
    exit_code: int | None,
    timed_out: bool,
    cancelled: bool,
    interrupted: str,
) -> tuple[str, str | None]:
    if cancelled:
        return "cancelled", "Run cancelled"
    if timed_out:
        return "failed", f"Run {interrupted}; its process group was killed"
    if raw.get("collection_errors"):
        return "error", "The script could not be loaded:\n" + raw["collection_errors"][0]
    failing = next((t for t in tests if t.outcome in ("failed", "error")), None)
    if failing is not None:
        return "failed", f"{failing.name}: {failing.error}"
    if exit_code == 5 or (exit_code == 0 and not tests):
        return "error", "No tests found: define test_… functions or a run(playwright) function"
    if exit_code in (0, None) or (exit_code == 1 and tests):
        return "passed", None
    if exit_code is not None and exit_code < 0:
        return "error", f"The run process was killed by signal {-exit_code} (memory or CPU limit?)"
    return "error", f"pytest exited with status {exit_code}"
