"""Each run in namespaces of its own, through bubblewrap (``bwrap``).

What a sandboxed run sees (see docs/runs.md, "Isolation"):

- its own PID namespace (only its processes; when its init dies, every process dies with it),
  user namespace (uid/gid 65534, no capabilities), mount, IPC, UTS, cgroup and network
  namespaces; ``--die-with-parent``; no new privileges; the seccomp filter of
  ``scriptflow.runs.seccomp``;
- a root built from an allow-list, read-only: ``/usr`` (and the ``/bin``, ``/lib*`` links), a
  few ``/etc`` entries (fonts, CA certificates, the loader cache, time zone) plus synthetic
  ``passwd``, ``group`` and ``hosts``, the fontconfig cache, the Python installation and
  virtualenv, the scriptflow package alone (not the tree around it) and the browser;
- writable: its work dir and artifacts dir, a private size-capped ``/tmp`` and ``/dev/shm``;
- the network: loopback only, where a bridge forwards ``127.0.0.1:3128`` to the worker's
  egress proxy (``scriptflow.runs.egress_proxy``).

When the server runs as root, bwrap is started as uid 65534 (``setpriv``) so the run is not
root outside its namespace either; paths that uid may not traverse (a Python under ``/root``)
are first bind-mounted onto empty folders it can reach, in a private mount namespace.
"""

from __future__ import annotations

import ctypes
import functools
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from scriptflow.config import Settings
from scriptflow.errors import ScriptflowError

RUN_UID = 65534
RUN_GID = 65534
INSIDE = Path("/run/scriptflow")
INSIDE_WORK = INSIDE / "work"
INSIDE_ARTIFACTS = INSIDE / "artifacts"
INSIDE_PYTHON = INSIDE / "python"
INSIDE_EGRESS = INSIDE / "egress"
HOSTNAME = "scriptflow-run"
# /etc entries a browser run needs; nothing else of /etc (shadow, machine secrets) is there.
ETC_ENTRIES = (
    "fonts",
    "ssl",
    "ca-certificates",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "mime.types",
    "alternatives",
    "nsswitch.conf",
)
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
FONT_CACHE = "/var/cache/fontconfig"
SYNTHETIC_ETC = {
    "passwd": f"nobody:x:{RUN_UID}:{RUN_GID}:nobody:{INSIDE_WORK}/home:/usr/sbin/nologin\n",
    "group": f"nogroup:x:{RUN_GID}:\n",
    "hosts": "127.0.0.1 localhost\n::1 localhost ip6-localhost\n",
}
_PR_SET_DUMPABLE = 4

IsolationMode = Literal["namespaces", "legacy"]


class IsolationUnavailable(ScriptflowError):
    code = "ISOLATION_UNAVAILABLE"


@dataclass(frozen=True)
class Isolation:
    """How this worker sandboxes runs; ``note`` says what is missing when it is ``legacy``."""

    mode: IsolationMode
    note: str | None = None

    def describe(self) -> str:
        """What a run's results say about how it was confined."""
        if self.mode == "namespaces":
            from scriptflow.runs.seccomp import describe as seccomp

            return f"namespaces (bubblewrap, uid {RUN_UID}, egress proxy; {seccomp()})"
        return f"legacy sandbox (Landlock and rlimits only; weaker): {self.note}"


@functools.cache
def namespaces_missing() -> str | None:
    """Why bubblewrap sandboxes cannot run here (None when they can), probed once."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return "bwrap is not installed (Debian package bubblewrap)"
    if os.geteuid() == 0 and (shutil.which("setpriv") is None or shutil.which("unshare") is None):
        return "setpriv/unshare (util-linux) are needed to start runs unprivileged as root"
    argv = [bwrap, "--unshare-all", "--uid", str(RUN_UID), "--gid", str(RUN_GID)]
    argv += [*_system_binds(), "--", "/usr/bin/true"]
    if os.geteuid() == 0:
        argv = _as_run_user(argv)
    try:
        done = subprocess.run(argv, capture_output=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap could not start: {exc}"
    if done.returncode != 0:
        detail = done.stderr.decode(errors="replace").strip().splitlines()
        reason = detail[-1] if detail else f"exit status {done.returncode}"
        return f"bwrap cannot create namespaces here (user namespaces disabled?): {reason}"
    return None


def choose_isolation(settings: Settings) -> Isolation:
    """Namespaces when available; in development the legacy sandbox otherwise (said so in
    every run's results); in production ``IsolationUnavailable`` naming what is missing."""
    wanted = settings.run_isolation
    if wanted == "legacy":
        if settings.is_production:
            raise IsolationUnavailable(
                "SCRIPTFLOW_RUN_ISOLATION=legacy is not allowed in production: runs execute "
                "code written by any user and need namespaces"
            )
        return Isolation("legacy", "SCRIPTFLOW_RUN_ISOLATION=legacy")
    missing = namespaces_missing()
    if missing is None:
        return Isolation("namespaces")
    if settings.is_production or wanted == "namespaces":
        raise IsolationUnavailable(
            f"run isolation is unavailable: {missing}. The worker refuses to run scripts "
            "without it; install bubblewrap and allow unprivileged user namespaces "
            "(sysctl kernel.unprivileged_userns_clone=1, user.max_user_namespaces > 0)",
            details={"missing": missing},
        )
    return Isolation("legacy", missing)


def harden_server_process() -> None:
    """Not dumpable: no process of our uid may read our /proc environ and memory or ptrace
    us (the server holds DATABASE_URL and the JWT secret). Reset by execve in children."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)


@dataclass(frozen=True)
class SandboxPlan:
    """One run's sandbox: host paths to show read-only or writable, sizes, env, command."""

    read_only: Sequence[tuple[Path, Path]]  # (host, inside)
    writable: Sequence[tuple[Path, Path]]
    env: Mapping[str, str]
    cwd: Path
    command: Sequence[str]
    tmp_bytes: int
    shm_bytes: int
    seccomp_fd: int | None = None
    info_fd: int | None = None  # bwrap writes {"child-pid": …}, the namespace's init, here
    stage_dir: Path | None = None  # empty folders for paths uid 65534 cannot traverse
    keep_fds: Sequence[int] = field(default_factory=tuple)


def read_only_paths(python_paths: Sequence[str], extra: Sequence[Path]) -> list[tuple[Path, Path]]:
    """Python installation, browser and other host folders shown at the same path inside
    (nested or missing ones dropped; ``/usr`` is always there)."""
    wanted = sorted({Path(p).resolve() for p in python_paths} | {p.resolve() for p in extra})
    kept: list[Path] = []
    for path in wanted:
        if not path.exists() or path.is_relative_to("/usr"):
            continue
        if any(path.is_relative_to(parent) for parent in kept):
            continue
        kept.append(path)
    return [(path, path) for path in kept]


def bwrap_command(plan: SandboxPlan, etc_dir: Path) -> list[str]:
    """The full command line (``unshare``/``setpriv`` first when we are root)."""
    argv = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session"]
    argv += ["--uid", str(RUN_UID), "--gid", str(RUN_GID), "--hostname", HOSTNAME]
    argv += _system_binds()
    argv += ["--proc", "/proc", "--dev", "/dev"]
    # Private, size-capped tmpfs mounts (inside the sandbox, not the host's).
    argv += ["--size", str(plan.tmp_bytes), "--tmpfs", "/tmp"]  # noqa: S108
    argv += ["--size", str(plan.shm_bytes), "--tmpfs", "/dev/shm"]  # noqa: S108
    for entry in ETC_ENTRIES:
        if os.path.lexists(f"/etc/{entry}"):
            argv += ["--ro-bind-try", f"/etc/{entry}", f"/etc/{entry}"]
    for name in SYNTHETIC_ETC:
        argv += ["--ro-bind", str(etc_dir / name), f"/etc/{name}"]
    if os.path.isdir(FONT_CACHE):
        argv += ["--ro-bind", FONT_CACHE, FONT_CACHE]
    staged: list[tuple[Path, Path]] = []
    for flag, binds in (("--ro-bind", plan.read_only), ("--bind", plan.writable)):
        for host, inside in binds:
            source = host
            if os.geteuid() == 0 and not traversable_by_others(host):
                assert plan.stage_dir is not None, "root needs a stage dir for private paths"
                source = plan.stage_dir / str(len(staged))
                source.mkdir(mode=0o755)
                staged.append((host, source))
            argv += [flag, str(source), str(inside)]
    # The root and /dev are tmpfs mounts bwrap made: read-only once populated, or a script
    # could fill memory there, past every cap.
    argv += ["--remount-ro", "/dev", "--remount-ro", "/"]
    if plan.seccomp_fd is not None:
        argv += ["--seccomp", str(plan.seccomp_fd)]
    if plan.info_fd is not None:
        argv += ["--info-fd", str(plan.info_fd)]
    argv += ["--chdir", str(plan.cwd), "--clearenv"]
    for key, value in plan.env.items():
        argv += ["--setenv", key, value]
    argv += ["--", *plan.command]
    if os.geteuid() == 0:
        return _as_run_user(argv, staged)
    return argv


def write_synthetic_etc(folder: Path) -> Path:
    """``passwd``, ``group`` and ``hosts`` for the sandbox (no host accounts, no names)."""
    folder.mkdir(mode=0o755, exist_ok=True)
    for name, content in SYNTHETIC_ETC.items():
        (folder / name).write_text(content)
        (folder / name).chmod(0o644)
    return folder


def traversable_by_others(path: Path) -> bool:
    """Whether an unrelated uid can reach ``path`` (search bit on every ancestor)."""
    current = path.resolve()
    for folder in [current, *current.parents]:
        try:
            mode = folder.stat().st_mode
        except OSError:
            return False
        if stat.S_ISDIR(mode) and not mode & stat.S_IXOTH:
            return False
    return True


def _system_binds() -> list[str]:
    argv: list[str] = []
    for path in SYSTEM_DIRS:
        if os.path.islink(path):
            argv += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            argv += ["--ro-bind", path, path]
    return argv


def _as_run_user(argv: list[str], staged: Sequence[tuple[Path, Path]] = ()) -> list[str]:
    """Run ``argv`` as uid/gid 65534 with no groups, after bind-mounting ``staged`` (host
    path → reachable empty folder) in a private mount namespace of its own."""
    mounts = "".join(
        f'mount --bind "${{{i * 2 + 1}}}" "${{{i * 2 + 2}}}" && ' for i in range(len(staged))
    )
    shift = f"shift {len(staged) * 2} && " if staged else ""
    script = (
        f"{mounts}{shift}exec setpriv --reuid {RUN_UID} --regid {RUN_GID} "
        '--clear-groups --inh-caps=-all --bounding-set=-all -- "$@"'
    )
    pairs = [str(p) for pair in staged for p in pair]
    return ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", script, "sh"] + (
        pairs + argv
    )


def chown_for_run(*paths: Path) -> None:
    """Hand the run its writable folders (only when we are root and the run is not)."""
    if os.geteuid() == 0:
        for path in paths:
            os.chown(path, RUN_UID, RUN_GID)
