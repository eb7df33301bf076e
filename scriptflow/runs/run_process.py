"""Entry point of a run process: apply resource limits, then hand over to pytest.

Started by the executor as ``python -m scriptflow.runs.run_process <launch.json>`` in its own
session (process group) with a scrubbed environment.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sys
from pathlib import Path


def apply_limits(memory_mb: int, cpu_s: int) -> None:
    """Cap the address space' data segment and CPU time of this process and its children.

    RLIMIT_DATA rather than RLIMIT_AS: Chromium reserves terabytes of address space up front
    (V8's pointer cage) without using it, so an AS limit breaks every launch.
    """
    data = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_DATA, (data, data))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 5))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def die_with_parent() -> None:
    """Linux: be SIGKILLed when the worker that started us dies, even by SIGKILL.

    The run lives in its own session (so the worker can kill its whole group), which also
    means it would outlive a killed worker; the parent-death signal closes that gap. When the
    run dies, Playwright's driver sees its pipe close and takes the browser down with it.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_pdeathsig = 1
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() == 1:  # the worker died before prctl took effect
        os._exit(137)


def main(argv: list[str]) -> int:
    """Run pytest with the arguments the executor prepared."""
    die_with_parent()
    launch = json.loads(Path(argv[1]).read_text())
    apply_limits(int(launch["memory_mb"]), int(launch["cpu_s"]))
    sandbox = launch.get("sandbox")
    if sandbox:
        from scriptflow.runs.sandbox import restrict_filesystem

        applied = restrict_filesystem(sandbox["read"], sandbox["write"])
        print(f"[scriptflow] filesystem sandbox: {'on' if applied else 'unavailable'}", flush=True)
    import pytest

    return int(pytest.main(list(launch["pytest_args"])))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
