"""Entry point of a run process: apply resource limits, then hand over to pytest.

Started by the executor as ``python -m scriptflow.runs.run_process <launch.json>``: inside the
bubblewrap sandbox (see ``scriptflow.runs.isolation``), or, where that is unavailable in
development, in its own session with the Landlock sandbox. Everything here runs before the
script is imported, so the limits it sets bind the script: hard limits, which an
unprivileged process can lower but never raise again.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any


def apply_limits(memory_mb: int, cpu_s: int, extra: dict[str, int] | None = None) -> None:
    """Cap the data segment, CPU time and (in the sandbox) processes, files and file size.

    RLIMIT_DATA rather than RLIMIT_AS: Chromium reserves terabytes of address space up front
    (V8's pointer cage) without using it, so an AS limit breaks every launch. Shared memory,
    which RLIMIT_DATA does not count, is refused by the sandbox's seccomp filter except as
    files in its size-capped tmpfs mounts.
    """
    data = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_DATA, (data, data))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 5))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    names = {
        "processes": resource.RLIMIT_NPROC,
        "open_files": resource.RLIMIT_NOFILE,
        "file_bytes": resource.RLIMIT_FSIZE,
    }
    for key, value in (extra or {}).items():
        resource.setrlimit(names[key], (value, value))


AUTOGROUP_EVERY_S = 0.2


def lower_session_priority(*, watch: bool) -> None:
    """Give this run's sessions (the kernel's scheduler autogroups) the run's niceness.

    With autogroups on (the default of most distributions), CPU time is shared between
    sessions first, and a task's niceness only counts inside its own session: a niced run would
    still get as much as the API beside it. So this session's autogroup gets the niceness now,
    and with ``watch`` (inside the sandbox, whose ``/proc`` shows only the run's processes) a
    thread gives it to every session the run makes later (Playwright starts the browser in a
    session of its own). Without privilege no process of the run can raise it again.
    """
    nice = os.getpriority(os.PRIO_PROCESS, 0)
    if nice <= 0 or not _set_autogroup_nice("self", nice):
        return
    if watch:
        threading.Thread(target=_watch_autogroups, args=(nice,), daemon=True).start()


def _set_autogroup_nice(pid: str, nice: int) -> bool:
    """False where the kernel has no autogroups (the niceness alone applies there)."""
    for _ in range(10):  # the kernel takes one autogroup change per 100 ms, machine-wide
        try:
            with open(f"/proc/{pid}/autogroup", "w") as autogroup:
                autogroup.write(str(nice))
            return True
        except BlockingIOError:
            time.sleep(0.03)
        except OSError:
            return False
    return True  # still busy: the watcher tries again


def _watch_autogroups(nice: int) -> None:
    while True:
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open(f"/proc/{pid}/autogroup") as autogroup:
                    current = int(autogroup.read().rsplit(" ", 1)[-1])
            except (OSError, ValueError):
                continue
            if current < nice:
                _set_autogroup_nice(pid, nice)
        time.sleep(AUTOGROUP_EVERY_S)


def die_with_parent() -> None:
    """Linux: be SIGKILLed when the worker that started us dies, even by SIGKILL.

    The run lives in its own session (so the worker can kill its whole group), which also
    means it would outlive a killed worker; the parent-death signal closes that gap. When the
    run dies, Playwright's driver sees its pipe close and takes the browser down with it.
    (In the sandbox bubblewrap's ``--die-with-parent`` does the same for the namespace.)
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_pdeathsig = 1
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() == 1:  # the worker died before prctl took effect
        os._exit(137)


def watch_wrap_up(fd: int) -> None:
    """A byte (or EOF) on ``fd`` from the worker means: wrap up as on SIGTERM.

    In the sandbox the worker cannot signal pytest (another PID namespace), so it asks here.
    """

    def wait() -> None:
        try:
            os.read(fd, 1)
        except OSError:
            return
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=wait, name="scriptflow-wrap-up", daemon=True).start()


def start_egress_bridge(port: int, socket_path: str) -> None:
    """Serve ``127.0.0.1:port`` inside the run's network namespace, forwarding every
    connection to the worker's egress proxy on ``socket_path`` (the only way out)."""
    ready = threading.Event()

    async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while chunk := await source.read(65536):
                sink.write(chunk)
                await sink.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            sink.close()

    async def forward(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_unix_connection(socket_path)
        except OSError:
            writer.close()
            return
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    async def serve() -> None:
        server = await asyncio.start_server(forward, "127.0.0.1", port)
        ready.set()
        async with server:
            await server.serve_forever()

    threading.Thread(
        target=lambda: asyncio.run(serve()), name="scriptflow-egress-bridge", daemon=True
    ).start()
    ready.wait(5)


def main(argv: list[str]) -> int:
    """Run pytest with the arguments the executor prepared."""
    launch: dict[str, Any] = json.loads(Path(argv[1]).read_text())
    if not launch.get("isolated"):
        die_with_parent()
    lower_session_priority(watch=bool(launch.get("isolated")))
    apply_limits(int(launch["memory_mb"]), int(launch["cpu_s"]), launch.get("limits"))
    if launch.get("wrap_up_fd") is not None:
        watch_wrap_up(int(launch["wrap_up_fd"]))
    bridge = launch.get("egress_bridge")
    if bridge:
        start_egress_bridge(int(bridge["port"]), str(bridge["socket"]))
    sandbox = launch.get("sandbox")
    if sandbox:
        from scriptflow.runs.sandbox import restrict_filesystem

        applied = restrict_filesystem(sandbox["read"], sandbox["write"])
        print(f"[scriptflow] filesystem sandbox: {'on' if applied else 'unavailable'}", flush=True)
    for note in launch.get("notes") or ():  # the project's pytest settings a run dropped
        print(note, flush=True)
    tree = launch.get("tree")
    if tree:
        # The tree's modules import each other from its root, as under `python -m pytest` in
        # the repository (our ini replaces theirs, and with it a `pythonpath = .`).
        sys.path.insert(0, tree)
    import importlib

    import pytest

    # Registered as modules, not named with -p: pytest would rewrite their assertions, which
    # means parsing and compiling them from source at every start (see workdir.RUN_PLUGINS).
    plugins = [importlib.import_module(name) for name in launch.get("plugins") or ()]
    return int(pytest.main(list(launch["pytest_args"]), plugins=plugins))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
