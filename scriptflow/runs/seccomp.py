"""The seccomp filter every sandboxed run gets: a small classic-BPF program, built here.

What it refuses, and why (the namespaces already hide the host; this closes what is left):

- new namespaces (``unshare``, ``setns``, ``clone`` with a ``CLONE_NEW*`` flag; ``clone3``,
  whose flags a filter cannot read, answers ``ENOSYS`` so libc falls back to ``clone``): a
  nested user namespace would let a script mount an unlimited tmpfs and escape the memory caps;
- shared anonymous memory (``mmap`` with ``MAP_SHARED|MAP_ANONYMOUS``, ``memfd_create``,
  SysV ``shmget``): such pages escape ``RLIMIT_DATA``; shared memory then lives only in the
  size-capped ``/tmp`` and ``/dev/shm`` tmpfs mounts (Chromium uses files there);
- kernel attack surface a test never needs: ``ptrace``, ``process_vm_*``, ``bpf``,
  ``perf_event_open``, ``userfaultfd``, ``io_uring_*``, keyrings, mounts, modules, ``kexec``,
  ``reboot``, swap, ``syslog``, ``acct``, file handles;
- every syscall of another ABI (32-bit ``int 0x80``, x32), which would bypass the numbers below.

Only x86-64 is covered (the numbers are per architecture); elsewhere ``filter_program`` returns
``None`` and the run goes without, which ``describe`` reports.
"""

from __future__ import annotations

import errno
import platform
import struct

_AUDIT_ARCH_X86_64 = 0xC000003E
_X32_SYSCALL_BIT = 0x40000000

_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_AND_K = 0x54
_RET_K = 0x06

_RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000

_OFFSET_NR = 0
_OFFSET_ARCH = 4


def _arg_low(index: int) -> int:
    """Offset of the low 32 bits of syscall argument ``index`` (little-endian)."""
    return 16 + 8 * index


_MAP_SHARED = 0x01
_MAP_ANONYMOUS = 0x20
_CLONE_NEW_ANY = (
    0x00020000  # CLONE_NEWNS
    | 0x02000000  # CLONE_NEWCGROUP
    | 0x04000000  # CLONE_NEWUTS
    | 0x08000000  # CLONE_NEWIPC
    | 0x10000000  # CLONE_NEWUSER
    | 0x20000000  # CLONE_NEWPID
    | 0x40000000  # CLONE_NEWNET
    | 0x00000080  # CLONE_NEWTIME
)

# x86-64 syscall numbers (arch/x86/entry/syscalls/syscall_64.tbl).
_X86_64_REFUSED = {
    "shmget": 29,
    "ptrace": 101,
    "syslog": 103,
    "pivot_root": 155,
    "acct": 163,
    "mount": 165,
    "umount2": 166,
    "swapon": 167,
    "swapoff": 168,
    "reboot": 169,
    "init_module": 175,
    "delete_module": 176,
    "quotactl": 179,
    "kexec_load": 246,
    "add_key": 248,
    "request_key": 249,
    "keyctl": 250,
    "unshare": 272,
    "perf_event_open": 298,
    "name_to_handle_at": 303,
    "open_by_handle_at": 304,
    "setns": 308,
    "process_vm_readv": 310,
    "process_vm_writev": 311,
    "finit_module": 313,
    "kexec_file_load": 320,
    "bpf": 321,
    "userfaultfd": 323,
    "io_uring_setup": 425,
    "io_uring_enter": 426,
    "io_uring_register": 427,
    "open_tree": 428,
    "move_mount": 429,
    "fsopen": 430,
    "fsconfig": 431,
    "fsmount": 432,
    "fspick": 433,
    "mount_setattr": 442,
    "memfd_secret": 447,
}
_X86_64_MMAP = 9
_X86_64_CLONE = 56
_X86_64_MEMFD_CREATE = 319
_X86_64_CLONE3 = 435


def _insn(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def _errno(number: int) -> int:
    return _RET_ERRNO | number


def x86_64_program() -> bytes:
    """The filter as ``struct sock_filter[]`` bytes, what ``bwrap --seccomp`` reads."""
    program = [
        _insn(_LD_W_ABS, _OFFSET_ARCH),
        _insn(_JEQ_K, _AUDIT_ARCH_X86_64, jt=1),
        _insn(_RET_K, _errno(errno.EPERM)),
        _insn(_LD_W_ABS, _OFFSET_NR),
        _insn(_JGE_K, _X32_SYSCALL_BIT, jf=1),
        _insn(_RET_K, _errno(errno.EPERM)),
    ]
    for number in sorted(_X86_64_REFUSED.values()):
        program += [_insn(_JEQ_K, number, jf=1), _insn(_RET_K, _errno(errno.EPERM))]
    program += [
        _insn(_JEQ_K, _X86_64_MEMFD_CREATE, jf=1),
        _insn(_RET_K, _errno(errno.ENOSYS)),
        _insn(_JEQ_K, _X86_64_CLONE3, jf=1),
        _insn(_RET_K, _errno(errno.ENOSYS)),
        # mmap: shared and anonymous at once is refused, everything else allowed.
        _insn(_JEQ_K, _X86_64_MMAP, jf=5),
        _insn(_LD_W_ABS, _arg_low(3)),
        _insn(_AND_K, _MAP_SHARED | _MAP_ANONYMOUS),
        _insn(_JEQ_K, _MAP_SHARED | _MAP_ANONYMOUS, jf=1),
        _insn(_RET_K, _errno(errno.ENOMEM)),
        _insn(_RET_K, _RET_ALLOW),
        # clone: no CLONE_NEW* flag, or refused.
        _insn(_JEQ_K, _X86_64_CLONE, jf=5),
        _insn(_LD_W_ABS, _arg_low(0)),
        _insn(_AND_K, _CLONE_NEW_ANY),
        _insn(_JEQ_K, 0, jt=1),
        _insn(_RET_K, _errno(errno.EPERM)),
        _insn(_RET_K, _RET_ALLOW),
        _insn(_RET_K, _RET_ALLOW),
    ]
    return b"".join(program)


def filter_program() -> bytes | None:
    """The filter for this machine's architecture, or None where we have none."""
    if platform.machine() in ("x86_64", "AMD64"):
        return x86_64_program()
    return None


def describe() -> str:
    """One line for run results and docs."""
    if filter_program() is None:
        return f"no seccomp filter on {platform.machine()} (only x86-64 has one)"
    return "seccomp: namespaces, shared anonymous memory, ptrace and kernel interfaces refused"
