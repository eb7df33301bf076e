"""Filesystem sandbox for a run process with Linux Landlock (no privileges needed).

After ``restrict_filesystem`` the process and everything it starts (the Playwright driver,
Chromium) may only read the system and Python installation directories given to it and may
only write in its own run folder and temporary folder. The server's data dir (embedded
database, development JWT secret, other runs' artifacts) and the source tree become unreadable.

Best effort: on kernels without Landlock (or other systems) it does nothing and says so.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Iterable

_SYS_CREATE_RULESET = 444  # the same number on every Linux architecture
_SYS_ADD_RULE = 445
_SYS_RESTRICT_SELF = 446
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38

_EXECUTE = 1 << 0
_WRITE_FILE = 1 << 1
_READ_FILE = 1 << 2
_READ_DIR = 1 << 3
# Landlock ABI 1 rights: execute, read, write and every kind of create/remove.
_ALL_V1 = (1 << 13) - 1
READ_ONLY = _EXECUTE | _READ_FILE | _READ_DIR
READ_WRITE = _ALL_V1

# Read-only everywhere: the OS, its libraries, fonts and configuration, process information.
SYSTEM_READ = (
    "/usr",
    "/lib",
    "/lib64",
    "/lib32",
    "/bin",
    "/sbin",
    "/etc",
    "/opt",
    "/proc",
    "/sys",
    "/var/cache/fontconfig",
)
SYSTEM_WRITE = ("/dev",)


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def python_read_paths() -> list[str]:
    """The interpreter, its standard library and the virtualenv's packages."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(sys.executable)}
    paths.add(os.path.dirname(os.path.realpath(sys.executable)))
    return sorted(p for p in paths if p)


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, 0 when unavailable."""
    if not sys.platform.startswith("linux"):
        return 0
    libc = ctypes.CDLL(None, use_errno=True)
    version = libc.syscall(_SYS_CREATE_RULESET, None, ctypes.c_size_t(0), _CREATE_RULESET_VERSION)
    return max(int(version), 0)


def restrict_filesystem(read: Iterable[str], write: Iterable[str]) -> bool:
    """Allow only these directory trees from now on; False (and no change) without Landlock."""
    if landlock_abi() < 1:
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    attr = _RulesetAttr(handled_access_fs=_ALL_V1)
    ruleset = libc.syscall(
        _SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(ctypes.sizeof(attr)), 0
    )
    if ruleset < 0:
        return False
    try:
        for paths, access in ((read, READ_ONLY), (write, READ_WRITE)):
            for path in paths:
                _allow(libc, ruleset, path, access)
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            return False
        return bool(libc.syscall(_SYS_RESTRICT_SELF, ruleset, 0) == 0)
    finally:
        os.close(ruleset)


def _allow(libc: ctypes.CDLL, ruleset: int, path: str, access: int) -> None:
    if not os.path.isdir(path):
        return
    fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    try:
        rule = _PathBeneathAttr(allowed_access=access, parent_fd=fd)
        libc.syscall(_SYS_ADD_RULE, ruleset, _RULE_PATH_BENEATH, ctypes.byref(rule), 0)
    finally:
        os.close(fd)
