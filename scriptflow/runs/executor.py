"""Execute one run in its own process group and report a plain result.

The executor is the edge between the queue and the browser: it writes the script and the
plugin's configuration into a scratch folder, starts ``scriptflow.runs.run_process`` with a
scrubbed environment in a new session, waits for it under a wall-clock timeout (or a cancel
request), kills the whole group, and reads back what the plugin recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import scriptflow
from scriptflow.runs.browsers import BrowserTarget
from scriptflow.runs.sandbox import SYSTEM_READ, SYSTEM_WRITE, python_read_paths
from scriptflow.runs.script_forms import prepare_script

# Variables a run process may inherit; everything else (DATABASE_URL, JWT_SECRET, OPENAI_*,
# SCRIPTFLOW_*, cloud credentials, ...) is dropped by construction rather than by a denylist.
INHERITED_ENV = ("PATH", "LANG", "LC_ALL", "TZ", "PLAYWRIGHT_BROWSERS_PATH")
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
OUTPUT_LOG = "output.log"
PYTHONPATH_DIR = "pythonpath"
PACKAGE_DIR = Path(scriptflow.__file__).resolve().parent
TIMED_OUT_EXIT = -int(signal.SIGKILL)
# Between SIGTERM to pytest and SIGKILL to the group: enough to stop a trace, and cancel still
# ends well within its 5 s promise (1 s to notice + this).
WRAP_UP_GRACE_S = 2.0
# A timeout has no one waiting on a promise, and its trace is the evidence of where the test
# hung, so it gets longer to save it on a busy machine.
TIMEOUT_WRAP_UP_GRACE_S = 6.0


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
    # Landlock where the kernel has it: the run reads only system and Python dirs, writes only
    # its own folders (see scriptflow.runs.sandbox).
    filesystem_sandbox: bool = True


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
    locator_hints: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """The counts a client shows first."""
        counts = {o: 0 for o in ("passed", "failed", "flaky", "skipped", "error")}
        for test in self.tests:
            counts[test.outcome] = counts.get(test.outcome, 0) + 1
        return {"total": len(self.tests), **counts}


class Executor(Protocol):
    """Runs one request; ``cancel`` being set means stop now and report ``cancelled``."""

    async def execute(self, request: RunRequest, cancel: asyncio.Event) -> ExecutionResult: ...


def run_environment(parent: Mapping[str, str], workdir: Path, tmpdir: Path) -> dict[str, str]:
    """The whole environment of a run process: an allowlist, never the server's secrets."""
    env = {key: parent[key] for key in INHERITED_ENV if key in parent}
    env.setdefault("PATH", DEFAULT_PATH)
    env.setdefault("LANG", "C.UTF-8")
    env.update(
        {
            "HOME": str(workdir / "home"),
            # Short on purpose: Chromium's singleton socket path must fit in 108 bytes.
            "TMPDIR": str(tmpdir),
            # The run imports scriptflow's plugin, and nothing from the server's site dirs.
            # Only scriptflow itself (a link to the package), not the tree around it.
            "PYTHONPATH": str(workdir / PYTHONPATH_DIR),
            "PYTHONNOUSERSITE": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            # Only the plugins a run needs: faster start, no surprises from the server's venv.
            "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        }
    )
    return env


def pytest_arguments(request: RunRequest) -> list[str]:
    """The pytest command line inside the run process (its own ini: the plugin is active)."""
    return [
        "test_script.py",
        "-c",
        "pytest.ini",
        "--rootdir",
        ".",
        "-p",
        "pytest_playwright.pytest_playwright",
        "-p",
        "scriptflow.runs.pytest_plugin",
        "-p",
        "no:cacheprovider",
        "--browser",
        request.browser.name,
        "--base-url",
        request.base_url,
        "--output",
        "playwright-output",
        "--scriptflow-config",
        "plugin.json",
        "-q",
        "-rN",
    ]


def plugin_config(request: RunRequest, work: Path, artifacts: Path) -> dict[str, Any]:
    """What the in-process plugin reads (see ``pytest_plugin.RunConfig``)."""
    target = request.browser
    return {
        "results_path": str(work / "results.json"),
        "artifacts_dir": str(artifacts),
        "browser": target.name,
        "base_url": request.base_url,
        "executable_path": str(target.executable_path) if target.executable_path else None,
        "launch_args": list(target.launch_args),
        "ws_endpoint": target.ws_endpoint,
        "retries": request.retries,
        "trace": request.trace,
        "artifact_max_bytes": request.artifact_max_bytes,
        "action_timeout_ms": request.action_timeout_ms,
        "block_private_egress": request.block_private_egress,
    }


def sandbox_paths(request: RunRequest, root: Path, tmpdir: Path) -> dict[str, list[str]]:
    """What a run may read (system, Python, scriptflow, its browser) and write (its folders)."""
    read = [*SYSTEM_READ, *python_read_paths(), str(PACKAGE_DIR)]
    if request.browser.executable_path is not None:
        read.append(str(request.browser.executable_path.resolve().parent))
    return {"read": read, "write": [*SYSTEM_WRITE, str(root), str(tmpdir)]}


def prepare_workdir(request: RunRequest, tmpdir: Path) -> tuple[Path, Path]:
    """Write the script, ini, plugin config and launch file; returns (scratch, artifacts)."""
    # Absolute: the run process works in `work`, and the data dir may be given relative.
    root = request.workdir.resolve()
    work = root / "work"
    artifacts = root / "artifacts"
    for folder in (work, work / "home", work / PYTHONPATH_DIR, artifacts):
        folder.mkdir(parents=True, exist_ok=True)
    (work / PYTHONPATH_DIR / PACKAGE_DIR.name).symlink_to(PACKAGE_DIR, target_is_directory=True)
    prepared = prepare_script(request.script)
    (work / "test_script.py").write_text(prepared.source)
    # Our own ini: the server's pyproject (which disables the playwright plugin) never applies.
    (work / "pytest.ini").write_text("[pytest]\naddopts =\n")
    (work / "plugin.json").write_text(json.dumps(plugin_config(request, work, artifacts)))
    launch = {
        "pytest_args": pytest_arguments(request),
        "memory_mb": request.memory_mb,
        # CPU seconds per process: generous, the wall clock is the real limit.
        "cpu_s": max(int(request.timeout_s * 2), 30),
        "sandbox": sandbox_paths(request, root, tmpdir) if request.filesystem_sandbox else None,
    }
    (work / "launch.json").write_text(json.dumps(launch))
    return work, artifacts


def read_results(path: Path) -> dict[str, Any]:
    """What the plugin wrote last; empty if it never got that far."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def interpret(
    raw: Mapping[str, Any],
    *,
    exit_code: int | None,
    timed_out: bool,
    cancelled: bool,
    timeout_s: float,
    artifacts_dir: Path,
    duration_ms: int,
) -> ExecutionResult:
    """Turn the plugin's record and the process's fate into a result (pure apart from paths)."""
    interrupted = "cancelled" if cancelled else f"timed out after {timeout_s:g} s"
    tests = []
    for t in raw.get("tests", []):
        outcome, error = t.get("outcome", "error"), t.get("error")
        if outcome == "running":
            outcome = "failed" if timed_out else ("skipped" if cancelled else "error")
            error = f"Test {interrupted}" if (timed_out or cancelled) else "Run process died"
        steps = tuple(StepResult(**s) for s in t.get("steps", []))
        tests.append(
            TestResult(
                t["name"], outcome, t.get("duration_ms", 0), t.get("attempts", 1), error, steps
            )
        )
    artifacts = tuple(
        ArtifactFile(
            a["name"],
            a["kind"],
            a["content_type"],
            a["size_bytes"],
            artifacts_dir / a["name"],
            bool(a.get("truncated")),
        )
        for a in raw.get("artifacts", [])
        if (artifacts_dir / a["name"]).is_file()
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
        tuple(raw.get("omitted_artifacts", [])),
        dict(raw.get("locator_hints") or {}),
    )


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


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _cap_file(path: Path, max_bytes: int) -> bool:
    """Truncate a log to the cap; True if it was cut."""
    if not path.exists() or path.stat().st_size <= max_bytes:
        return False
    with path.open("r+b") as fh:
        fh.truncate(max_bytes)
    return True


class SubprocessExecutor:
    """The real executor: one OS process group per run."""

    def __init__(self, *, python: str | None = None, keep_scratch: bool = False) -> None:
        self.python = python or sys.executable
        self.keep_scratch = keep_scratch

    async def execute(self, request: RunRequest, cancel: asyncio.Event) -> ExecutionResult:
        """Run, wait under the timeout or until cancelled, kill the group, read results."""
        tmpdir = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="sf-run-"))
        try:
            work, artifacts = await asyncio.to_thread(prepare_workdir, request, tmpdir)
            return await self._run(request, work, artifacts, tmpdir, cancel)
        finally:
            await asyncio.to_thread(shutil.rmtree, tmpdir, True)

    async def _run(
        self, request: RunRequest, work: Path, artifacts: Path, tmpdir: Path, cancel: asyncio.Event
    ) -> ExecutionResult:
        log_path = artifacts / OUTPUT_LOG
        started = time.monotonic()
        with log_path.open("wb") as log:
            proc = await asyncio.create_subprocess_exec(
                self.python,
                "-m",
                "scriptflow.runs.run_process",
                "launch.json",
                cwd=work,
                env=run_environment(os.environ, work, tmpdir),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
            timed_out, cancelled = await self._wait(proc, request.timeout_s, cancel)
            # Whatever happened, nothing of this run outlives it (browsers, drivers, children).
            _kill_group(proc.pid)
            exit_code = await proc.wait()
        duration_ms = int((time.monotonic() - started) * 1000)
        return await asyncio.to_thread(
            self._collect, request, work, artifacts, exit_code, timed_out, cancelled, duration_ms
        )

    @staticmethod
    async def _wait(
        proc: asyncio.subprocess.Process, timeout_s: float, cancel: asyncio.Event
    ) -> tuple[bool, bool]:
        done_task = asyncio.ensure_future(proc.wait())
        cancel_task = asyncio.ensure_future(cancel.wait())
        try:
            done, _ = await asyncio.wait(
                {done_task, cancel_task}, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED
            )
        except asyncio.CancelledError:
            _kill_group(proc.pid)
            raise
        finally:
            cancel_task.cancel()
        if done_task in done:
            return False, False
        # Ask pytest alone to wrap up first (the plugin saves the running test's trace and
        # screenshot while the browser still lives), then kill the group regardless.
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        grace = WRAP_UP_GRACE_S if cancel_task in done else TIMEOUT_WRAP_UP_GRACE_S
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(done_task), timeout=grace)
        _kill_group(proc.pid)
        done_task.cancel()
        return (cancel_task not in done), (cancel_task in done)

    def _collect(
        self,
        request: RunRequest,
        work: Path,
        artifacts: Path,
        exit_code: int,
        timed_out: bool,
        cancelled: bool,
        duration_ms: int,
    ) -> ExecutionResult:
        raw = dict(read_results(work / "results.json"))
        log_path = artifacts / OUTPUT_LOG
        truncated = _cap_file(log_path, request.artifact_max_bytes)
        if log_path.exists() and log_path.stat().st_size:
            raw.setdefault("artifacts", []).append(
                {
                    "name": OUTPUT_LOG,
                    "kind": "log",
                    "content_type": "text/plain",
                    "size_bytes": log_path.stat().st_size,
                    "truncated": truncated,
                }
            )
        result = interpret(
            raw,
            exit_code=exit_code,
            timed_out=timed_out,
            cancelled=cancelled,
            timeout_s=request.timeout_s,
            artifacts_dir=artifacts,
            duration_ms=duration_ms,
        )
        if result.status == "error" and not raw.get("tests") and log_path.exists():
            tail = log_path.read_text(errors="replace")[-1500:].strip()
            if tail and result.error and tail not in result.error:
                result = _with_error(result, f"{result.error}\n{tail}")
        if not self.keep_scratch:
            shutil.rmtree(work, ignore_errors=True)
        return result


def _with_error(result: ExecutionResult, error: str) -> ExecutionResult:
    from dataclasses import replace

    return replace(result, error=error)
