"""Execute one run in a sandbox of its own and report a plain result.

The executor is the edge between the queue and the browser: it writes the script and the
plugin's configuration into a scratch folder, starts ``scriptflow.runs.run_process`` with a
scrubbed environment inside bubblewrap namespaces (``scriptflow.runs.isolation``; the legacy
Landlock sandbox where that is unavailable in development), serves the run's egress proxy
meanwhile, waits under a wall-clock timeout (or a cancel request), kills the sandbox, reads
back what the plugin recorded and copies the artifacts into the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import scriptflow
from scriptflow.runs import artifacts as artifact_store
from scriptflow.runs import isolation
from scriptflow.runs.browsers import BrowserTarget
from scriptflow.runs.egress import EgressPolicy
from scriptflow.runs.egress_proxy import PROXY_PORT, EgressProxy
from scriptflow.runs.sandbox import SYSTEM_READ, SYSTEM_WRITE, python_read_paths
from scriptflow.runs.script_forms import prepare_script
from scriptflow.runs.seccomp import filter_program

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
# From killing a sandbox's init until bwrap has reaped it and exited.
KILL_WAIT_S = 3.0
# Traces and screenshots of one run: at most this many per-artifact caps (as the plugin keeps).
RUN_ARTIFACT_CAPS = 4


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
    isolation: str = ""  # how the run was confined (says so when it was the weaker sandbox)
    egress_refused: tuple[Mapping[str, object], ...] = ()  # {host, port, reason}

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


def sandbox_environment(parent: Mapping[str, str]) -> dict[str, str]:
    """The environment inside the namespaces: the same allowlist, inside paths, and the
    egress bridge as every client's proxy (there is no other way out)."""
    env = run_environment(parent, isolation.INSIDE_WORK, Path("/tmp"))  # noqa: S108 (the sandbox's own tmpfs)
    env["PYTHONPATH"] = str(isolation.INSIDE_PYTHON)
    proxy = f"http://127.0.0.1:{PROXY_PORT}"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        env[name] = env[name.lower()] = proxy
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
        "scriptflow.runs.engine.plugin",
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


def plugin_config(
    request: RunRequest, work: Path, artifacts: Path, *, isolated: bool = False
) -> dict[str, Any]:
    """What the in-process plugin reads (see ``engine.record.RunConfig``); paths as the run
    sees them."""
    target = request.browser
    return {
        "results_path": str(work / "results.json"),
        "artifacts_dir": str(artifacts),
        "browser": target.name,
        "base_url": request.base_url,
        "executable_path": str(target.executable_path) if target.executable_path else None,
        "launch_args": list(target.launch_args),
        # The browser's only way out is the egress bridge, where the policy decides; loopback
        # origins (the demo app) go through it too.
        "proxy_server": f"http://127.0.0.1:{PROXY_PORT}" if isolated else None,
        "ws_endpoint": target.ws_endpoint,
        "retries": request.retries,
        "trace": request.trace,
        "artifact_max_bytes": request.artifact_max_bytes,
        "action_timeout_ms": request.action_timeout_ms,
        # In the namespaces the egress proxy decides for every client, not just the browser.
        "block_private_egress": request.block_private_egress and not isolated,
    }


def sandbox_paths(request: RunRequest, root: Path, tmpdir: Path) -> dict[str, list[str]]:
    """Legacy sandbox: what a run may read (system, Python, scriptflow, its browser) and
    write (its folders)."""
    read = [*SYSTEM_READ, *python_read_paths(), str(PACKAGE_DIR)]
    if request.browser.executable_path is not None:
        read.append(str(request.browser.executable_path.resolve().parent))
    return {"read": read, "write": [*SYSTEM_WRITE, str(root), str(tmpdir)]}


@dataclass(frozen=True)
class RunFolders:
    """The run's own (hostile-writable) folders and the worker's private ones."""

    root: Path
    work: Path
    artifacts: Path
    store: Path
    private: Path  # the worker's: the output log, the proxy socket; never writable by the run

    @property
    def log(self) -> Path:
        return self.private / "log" / OUTPUT_LOG

    @property
    def egress(self) -> Path:
        return self.private / "egress"

    @property
    def tmp(self) -> Path:  # the legacy sandbox's TMPDIR
        return self.private / "t"


def make_folders(request: RunRequest, private: Path) -> RunFolders:
    """Create the run's folders: writable by the run, nothing else of ours is."""
    # Absolute: the run process works in `work`, and the data dir may be given relative.
    root = request.workdir.resolve()
    store = (request.artifact_store or root / "store").resolve()
    folders = RunFolders(root, root / "work", root / "artifacts", store, private)
    for folder in (root, folders.work, folders.work / "home", folders.artifacts):
        folder.mkdir(parents=True, exist_ok=True)
    isolation.chown_for_run(folders.work, folders.work / "home", folders.artifacts)
    # Others may pass through to the socket and the synthetic /etc, not list or read the log.
    private.chmod(0o711)
    folders.log.parent.mkdir(mode=0o700)
    folders.egress.mkdir(mode=0o755)
    folders.tmp.mkdir(mode=0o700)
    return folders


def prepare_workdir(
    request: RunRequest, folders: RunFolders, *, isolated: bool, launch_extra: dict[str, Any]
) -> None:
    """Write the script, ini, plugin config and launch file into the run's work dir."""
    work = folders.work
    prepared = prepare_script(request.script)
    (work / "test_script.py").write_text(prepared.source)
    # Our own ini: the server's pyproject (which disables the playwright plugin) never applies.
    (work / "pytest.ini").write_text("[pytest]\naddopts =\n")
    if isolated:
        inside_work, inside_artifacts = isolation.INSIDE_WORK, isolation.INSIDE_ARTIFACTS
    else:
        inside_work, inside_artifacts = work, folders.artifacts
        (work / PYTHONPATH_DIR).mkdir(exist_ok=True)
        (work / PYTHONPATH_DIR / PACKAGE_DIR.name).symlink_to(PACKAGE_DIR, target_is_directory=True)
    config = plugin_config(request, inside_work, inside_artifacts, isolated=isolated)
    (work / "plugin.json").write_text(json.dumps(config))
    launch = {
        "pytest_args": pytest_arguments(request),
        "memory_mb": request.memory_mb,
        # CPU seconds per process: generous, the wall clock is the real limit.
        "cpu_s": max(int(request.timeout_s * 2), 30),
        "isolated": isolated,
        **launch_extra,
    }
    if not isolated and request.filesystem_sandbox:
        launch["sandbox"] = sandbox_paths(request, folders.root, folders.tmp)
    (work / "launch.json").write_text(json.dumps(launch))


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
                t["name"], outcome, t.get("duration_ms", 0), t.get("attempts", 1), error, steps
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


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _signal_exit(code: int, isolated: bool) -> int:
    """bwrap reports a command killed by signal N as 128 + N; say it as Python does (-N)."""
    if isolated and 128 < code < 128 + 65:
        return -(code - 128)
    return code


async def _namespace_init(info_fd: int) -> int | None:
    """A pidfd of the sandbox's PID-namespace init, from bwrap's info (None without one)."""
    loop = asyncio.get_running_loop()
    data = b""
    while True:
        try:
            chunk = await loop.run_in_executor(None, os.read, info_fd, 4096)
        except OSError:
            return None
        if not chunk:
            return None
        data += chunk
        found = re.search(rb'"child-pid":\s*(\d+)', data)
        if found:
            try:
                return os.pidfd_open(int(found.group(1)))
            except OSError:
                return None


def _kill_init(pidfd: int | None) -> None:
    if pidfd is not None:
        with contextlib.suppress(OSError):
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)


async def _reap_namespace(namespace_init: asyncio.Future[int | None], timeout_s: float = 5) -> None:
    """Kill the namespace's init (if bwrap's death did not) and wait until it has exited:
    the kernel ends an init only after every process of its namespace is gone."""
    if not namespace_init.done():
        namespace_init.cancel()
        return
    pidfd = namespace_init.result()
    if pidfd is None:
        return
    loop = asyncio.get_running_loop()
    exited: asyncio.Future[None] = loop.create_future()

    def mark_exited() -> None:
        if not exited.done():
            exited.set_result(None)

    try:
        _kill_init(pidfd)
        loop.add_reader(pidfd, mark_exited)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(exited, timeout_s)
    finally:
        loop.remove_reader(pidfd)
        os.close(pidfd)


class SubprocessExecutor:
    """The real executor: one sandbox (namespaces, or the legacy process group) per run."""

    def __init__(
        self,
        *,
        python: str | None = None,
        keep_scratch: bool = False,
        isolation_mode: isolation.Isolation | None = None,
    ) -> None:
        from scriptflow.config import get_settings

        self.python = python or sys.executable
        self.keep_scratch = keep_scratch
        # In production this refuses to start (IsolationUnavailable) naming what is missing.
        self.isolation = isolation_mode or isolation.choose_isolation(get_settings())
        isolation.harden_server_process()

    @property
    def isolated(self) -> bool:
        return self.isolation.mode == "namespaces"

    async def execute(self, request: RunRequest, cancel: asyncio.Event) -> ExecutionResult:
        """Run, wait under the timeout or until cancelled, kill the sandbox, collect."""
        private = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="sf-run-"))
        try:
            folders = await asyncio.to_thread(make_folders, request, private)
            policy = EgressPolicy.for_run(
                request.base_url, request.egress_allow, request.egress_mode
            )
            async with EgressProxy(policy, folders.egress / "proxy.sock") as proxy:
                result = await self._run(request, folders, cancel)
            refused = tuple(r.as_dict() for r in proxy.refused) if self.isolated else ()
            return replace(result, isolation=self.isolation.describe(), egress_refused=refused)
        finally:
            await asyncio.to_thread(shutil.rmtree, private, True)

    async def _run(
        self, request: RunRequest, folders: RunFolders, cancel: asyncio.Event
    ) -> ExecutionResult:
        wrap_up_read, wrap_up_write = os.pipe()
        info_read, info_write = os.pipe()
        keep_fds = [wrap_up_read, info_write] if self.isolated else [wrap_up_read]
        # Every fd we opened, closed exactly once: runs execute side by side, and closing a
        # number twice would close another run's socket or log.
        owned = {wrap_up_read, wrap_up_write, info_read, info_write}

        def close(*fds: int) -> None:
            for fd in fds:
                if fd in owned:
                    owned.discard(fd)
                    os.close(fd)

        launch_extra: dict[str, Any] = {}
        if self.isolated:
            launch_extra = {
                "wrap_up_fd": wrap_up_read,
                "egress_bridge": {
                    "port": PROXY_PORT,
                    "socket": str(isolation.INSIDE_EGRESS / "proxy.sock"),
                },
                "limits": {
                    "processes": request.max_processes,
                    "open_files": request.max_open_files,
                    "file_bytes": request.max_file_bytes,
                },
            }
        try:
            await asyncio.to_thread(
                prepare_workdir,
                request,
                folders,
                isolated=self.isolated,
                launch_extra=launch_extra,
            )
            if self.isolated:
                try:
                    argv, env, cwd = await asyncio.to_thread(
                        self._sandbox_command, request, folders, keep_fds, info_write
                    )
                finally:
                    owned.update(keep_fds)  # the seccomp program's pipe
            else:
                argv = [self.python, "-m", "scriptflow.runs.run_process", "launch.json"]
                env, cwd = run_environment(os.environ, folders.work, folders.tmp), folders.work
            started = time.monotonic()
            with folders.log.open("wb") as log:
                proc = await asyncio.create_subprocess_exec(
                    *argv,
                    cwd=cwd,
                    env=env,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=log,
                    stderr=asyncio.subprocess.STDOUT,
                    start_new_session=True,
                    pass_fds=keep_fds,
                )
                close(*keep_fds)
                namespace_init: asyncio.Future[int | None] | None = None
                if self.isolated:
                    namespace_init = asyncio.ensure_future(_namespace_init(info_read))
                else:
                    close(info_read, info_write)
                try:
                    timed_out, cancelled = await self._wait(
                        proc, request.timeout_s, cancel, wrap_up_write
                    )
                    # Whatever happened, nothing of this run outlives it: the namespace's init
                    # is killed first (the kernel takes every process inside with it) and
                    # bwrap, our child, reaps it and exits; then the group, whatever is left.
                    if namespace_init is not None and namespace_init.done():
                        _kill_init(namespace_init.result())
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(proc.wait(), KILL_WAIT_S)
                    _kill_group(proc.pid)
                    exit_code = _signal_exit(await proc.wait(), self.isolated)
                finally:
                    if namespace_init is not None:
                        await _reap_namespace(namespace_init)
        finally:
            close(*owned)
        duration_ms = int((time.monotonic() - started) * 1000)
        return await asyncio.to_thread(
            self._collect, request, folders, exit_code, timed_out, cancelled, duration_ms
        )

    def _sandbox_command(
        self, request: RunRequest, folders: RunFolders, keep_fds: list[int], info_fd: int
    ) -> tuple[list[str], dict[str, str], Path]:
        """The bwrap command line for this run (and the fds it must inherit)."""
        browser_dirs = []
        if request.browser.executable_path is not None:
            browser_dirs.append(request.browser.executable_path.resolve().parent)
        read_only = isolation.read_only_paths(python_read_paths(), browser_dirs)
        read_only += [
            (PACKAGE_DIR, isolation.INSIDE_PYTHON / PACKAGE_DIR.name),
            (folders.egress, isolation.INSIDE_EGRESS),
        ]
        writable = [
            (folders.work, isolation.INSIDE_WORK),
            (folders.artifacts, isolation.INSIDE_ARTIFACTS),
        ]
        program = filter_program()
        seccomp_fd = None
        if program is not None:
            seccomp_fd, writer = os.pipe()
            os.write(writer, program)  # a few hundred bytes: fits the pipe buffer
            os.close(writer)
            keep_fds.append(seccomp_fd)
        stage = folders.private / "stage"
        stage.mkdir(mode=0o755)
        plan = isolation.SandboxPlan(
            read_only=read_only,
            writable=writable,
            env=sandbox_environment(os.environ),
            cwd=isolation.INSIDE_WORK,
            command=[self.python, "-m", "scriptflow.runs.run_process", "launch.json"],
            tmp_bytes=request.tmp_mb * 1024 * 1024,
            shm_bytes=request.shm_mb * 1024 * 1024,
            seccomp_fd=seccomp_fd,
            info_fd=info_fd,
            stage_dir=stage,
        )
        etc = isolation.write_synthetic_etc(folders.private / "etc")
        argv = isolation.bwrap_command(plan, etc)
        return argv, {"PATH": os.environ.get("PATH", DEFAULT_PATH)}, folders.private

    async def _wait(
        self,
        proc: asyncio.subprocess.Process,
        timeout_s: float,
        cancel: asyncio.Event,
        wrap_up_fd: int,
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
        # screenshot while the browser still lives), then kill the sandbox regardless.
        if self.isolated:
            with contextlib.suppress(OSError):
                os.write(wrap_up_fd, b"t")
        else:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
        grace = WRAP_UP_GRACE_S if cancel_task in done else TIMEOUT_WRAP_UP_GRACE_S
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(done_task), timeout=grace)
        if not self.isolated:
            _kill_group(proc.pid)
        done_task.cancel()
        return (cancel_task not in done), (cancel_task in done)

    def _collect(
        self,
        request: RunRequest,
        folders: RunFolders,
        exit_code: int,
        timed_out: bool,
        cancelled: bool,
        duration_ms: int,
    ) -> ExecutionResult:
        raw = read_results(folders.work)
        if folders.store.exists():
            shutil.rmtree(folders.store)
        cap = request.artifact_max_bytes
        stored = artifact_store.collect(
            _list(raw.get("artifacts")),
            folders.artifacts,
            folders.store,
            max_bytes=cap,
            max_total_bytes=cap * (RUN_ARTIFACT_CAPS + 1),
        )
        stored = [a for a in stored if a.name != OUTPUT_LOG]
        log = artifact_store.store_file(folders.log, folders.store, OUTPUT_LOG, max_bytes=cap)
        if log is not None:
            stored.append(log)
        files = tuple(
            ArtifactFile(a.name, a.kind, a.content_type, a.size_bytes, a.path, a.truncated)
            for a in stored
        )
        options: dict[str, Any] = {
            "exit_code": exit_code,
            "timed_out": timed_out,
            "cancelled": cancelled,
            "timeout_s": request.timeout_s,
            "artifacts": files,
            "duration_ms": duration_ms,
        }
        try:
            result = interpret(raw, **options)
        except (TypeError, ValueError, KeyError, AttributeError):
            # The run wrote results.json itself and may have written anything into it.
            raw = {}
            result = interpret(raw, **options)
            result = replace(result, status="error", error="The run's results are malformed")
        if result.status == "error" and not raw.get("tests") and log is not None:
            tail = log.path.read_text(errors="replace")[-1500:].strip()
            if tail and result.error and tail not in result.error:
                result = replace(result, error=f"{result.error}\n{tail}")
        if not self.keep_scratch:
            shutil.rmtree(folders.work, ignore_errors=True)
        return result
