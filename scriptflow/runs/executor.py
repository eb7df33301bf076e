"""Execute one run in a sandbox of its own and report a plain result.

The executor is the edge between the queue and the browser: it writes the project's files and
the plugin's configuration into a scratch folder (``workdir``), starts
``scriptflow.runs.run_process`` with a scrubbed environment inside bubblewrap namespaces
(``scriptflow.runs.isolation``; the legacy Landlock sandbox where that is unavailable in
development), serves the run's egress proxy meanwhile, waits under a wall-clock timeout (or a
cancel request), kills the sandbox (``process_control``), reads back what the plugin recorded
and copies the artifacts into the store (``execution.interpret``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from scriptflow.runs import artifacts as artifact_store
from scriptflow.runs import isolation, process_control, scratch
from scriptflow.runs.egress import EgressPolicy
from scriptflow.runs.egress_proxy import PROXY_PORT, EgressProxy
from scriptflow.runs.execution import (
    ArtifactFile,
    ExecutionResult,
    Executor,
    RunRequest,
    StepResult,
    TestResult,
    interpret,
    read_results,
)
from scriptflow.runs.execution import _list as _list
from scriptflow.runs.sandbox import python_read_paths
from scriptflow.runs.seccomp import filter_program
from scriptflow.runs.workdir import (
    DEFAULT_PATH,
    INHERITED_ENV,
    OUTPUT_LOG,
    PACKAGE_DIR,
    RunFolders,
    make_folders,
    plugin_config,
    prepare_workdir,
    pytest_arguments,
    run_environment,
    sandbox_environment,
)

__all__ = [
    "INHERITED_ENV",
    "PACKAGE_DIR",
    "ArtifactFile",
    "ExecutionResult",
    "Executor",
    "RunFolders",
    "RunRequest",
    "StepResult",
    "SubprocessExecutor",
    "TestResult",
    "interpret",
    "plugin_config",
    "pytest_arguments",
    "run_environment",
    "sandbox_environment",
]

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
        # Scratch folders of runs whose executor was killed go at the first run (scratch.py).
        self._swept = False
        # In production this refuses to start (IsolationUnavailable) naming what is missing.
        self.isolation = isolation_mode or isolation.choose_isolation(get_settings())
        isolation.harden_server_process()

    @property
    def isolated(self) -> bool:
        return self.isolation.mode == "namespaces"

    async def execute(self, request: RunRequest, cancel: asyncio.Event) -> ExecutionResult:
        """Run, wait under the timeout or until cancelled, kill the sandbox, collect."""
        if not self._swept:
            self._swept = True
            await asyncio.to_thread(scratch.sweep_orphans)
        claimed = await asyncio.to_thread(scratch.claim)
        try:
            folders = await asyncio.to_thread(make_folders, request, claimed.path)
            policy = EgressPolicy.for_run(
                request.base_url, request.egress_allow, request.egress_mode
            )
            async with EgressProxy(policy, folders.egress / "proxy.sock") as proxy:
                result = await self._run(request, folders, cancel)
            refused = tuple(r.as_dict() for r in proxy.refused) if self.isolated else ()
            unreachable = tuple(r.as_dict() for r in proxy.unreachable) if self.isolated else ()
            return replace(
                result,
                isolation=self.isolation.describe(),
                egress_refused=refused,
                unreachable=unreachable,
            )
        finally:
            await asyncio.to_thread(claimed.release)

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
                    *niced(argv, request.nice),
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
                    namespace_init = asyncio.ensure_future(
                        process_control.namespace_init(info_read)
                    )
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
                        process_control.kill_init(namespace_init.result())
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(proc.wait(), KILL_WAIT_S)
                    process_control.kill_group(proc.pid)
                    exit_code = process_control.signal_exit(await proc.wait(), self.isolated)
                finally:
                    if namespace_init is not None:
                        await process_control.reap_namespace(namespace_init)
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
            process_control.kill_group(proc.pid)
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
            process_control.kill_group(proc.pid)
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
        if request.before_clear is not None:
            request.before_clear()
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


def niced(argv: list[str], nice: int) -> list[str]:
    """``argv`` run at niceness ``nice``: through ``nice(1)``, which execs it, so the process
    (our child, its session's leader) starts at that priority and every process it forks,
    bwrap's namespace, pytest and Chromium, inherits it. Without the privilege a process
    cannot raise its priority again."""
    if nice <= 0:
        return argv
    tool = shutil.which("nice")
    if tool is None:  # coreutils is everywhere bwrap is; a run is not refused for lacking it
        return argv
    return [tool, "-n", str(nice), *argv]
