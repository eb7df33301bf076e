"""Ending a run's processes for good: its process group, and the PID namespace's init, which
takes every process inside with it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal


def kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def signal_exit(code: int, isolated: bool) -> int:
    """bwrap reports a command killed by signal N as 128 + N; say it as Python does (-N)."""
    if isolated and 128 < code < 128 + 65:
        return -(code - 128)
    return code


async def namespace_init(info_fd: int) -> int | None:
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


def kill_init(pidfd: int | None) -> None:
    if pidfd is not None:
        with contextlib.suppress(OSError):
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)


async def reap_namespace(namespace_init: asyncio.Future[int | None], timeout_s: float = 5) -> None:
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
        kill_init(pidfd)
        loop.add_reader(pidfd, mark_exited)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(exited, timeout_s)
    finally:
        loop.remove_reader(pidfd)
        os.close(pidfd)
