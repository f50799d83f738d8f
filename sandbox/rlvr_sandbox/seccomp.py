"""The seccomp filter of a run, assembled here as classic BPF (no libseccomp needed).

Why hand-assembled: the filter is a short deny list, and building it here keeps the jail free of a
dependency that exists only for the distribution's own Python (Debian's ``python3-seccomp``), while
the program the kernel gets is the same. The zygote loads the bytes with ``prctl(PR_SET_SECCOMP)``
after ``no_new_privs``, in the program's process only.

What it refuses (``EPERM`` unless noted):
- other ABIs: a foreign architecture is killed; x32 system calls (nr ≥ 2**30) are refused;
- debugging and memory access across processes: ``ptrace``, ``process_vm_readv/writev``;
- file-system and namespace changes: ``mount``, ``umount2``, the new mount API, ``pivot_root``,
  ``chroot``, ``unshare``, ``setns``, and ``clone`` with any namespace flag; ``clone3`` answers
  ``ENOSYS`` so the C library falls back to ``clone``, whose flags can be inspected;
- kernel surfaces: ``keyctl``/``add_key``/``request_key``, ``bpf``, ``perf_event_open``,
  ``userfaultfd``, ``io_uring_*`` (``ENOSYS``, runtimes then use their thread pools), module and
  kexec calls, ``open_by_handle_at``, ``syslog``, ``acct``, swap, ``reboot``, ``quotactl``;
- sockets of the ``AF_NETLINK`` and ``AF_VSOCK`` families; ``ioctl(TIOCSTI)``/``TIOCLINUX``
  (typing into a terminal).
"""

from __future__ import annotations

import errno
import platform
import struct
from dataclasses import dataclass

# BPF opcodes
_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_JSET_K = 0x45
_RET_K = 0x06

RET_ALLOW = 0x7FFF0000
RET_KILL_PROCESS = 0x80000000
RET_ERRNO = 0x00050000

AF_NETLINK, AF_VSOCK = 16, 40
TIOCSTI, TIOCLINUX = 0x5412, 0x541C
NAMESPACE_FLAGS = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000

DENIED = (
    "ptrace", "process_vm_readv", "process_vm_writev", "mount", "umount2", "pivot_root", "chroot",
    "unshare", "setns", "keyctl", "add_key", "request_key", "bpf", "perf_event_open", "userfaultfd",
    "open_by_handle_at", "name_to_handle_at", "init_module", "finit_module", "delete_module", "kexec_load",
    "kexec_file_load", "syslog", "acct", "swapon", "swapoff", "reboot", "quotactl", "open_tree", "move_mount",
    "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
)
NOT_IMPLEMENTED = ("clone3", "io_uring_setup", "io_uring_enter", "io_uring_register")


@dataclass(frozen=True)
class Arch:
    audit: int
    x32_bit: bool
    numbers: dict[str, int]


_COMMON_NEW = {  # the same numbers on every architecture since 4.x
    "pidfd_open": 434, "clone3": 435, "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
    "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433,
    "mount_setattr": 442,
}

ARCHES = {
    "x86_64": Arch(0xC000003E, True, {
        "ioctl": 16, "socket": 41, "clone": 56, "ptrace": 101, "syslog": 103, "pivot_root": 155, "chroot": 161,
        "acct": 163, "mount": 165, "umount2": 166, "swapon": 167, "swapoff": 168, "reboot": 169,
        "init_module": 175, "delete_module": 176, "quotactl": 179, "kexec_load": 246, "add_key": 248,
        "request_key": 249, "keyctl": 250, "unshare": 272, "perf_event_open": 298, "name_to_handle_at": 303,
        "open_by_handle_at": 304, "setns": 308, "process_vm_readv": 310, "process_vm_writev": 311,
        "finit_module": 313, "kexec_file_load": 320, "bpf": 321, "userfaultfd": 323, **_COMMON_NEW,
    }),
    "aarch64": Arch(0xC00000B7, False, {
        "ioctl": 29, "socket": 198, "clone": 220, "ptrace": 117, "syslog": 116, "pivot_root": 41, "chroot": 51,
        "acct": 89, "mount": 40, "umount2": 39, "swapon": 224, "swapoff": 225, "reboot": 142,
        "init_module": 105, "delete_module": 106, "quotactl": 60, "kexec_load": 104, "add_key": 217,
        "request_key": 218, "keyctl": 219, "unshare": 97, "perf_event_open": 241, "name_to_handle_at": 264,
        "open_by_handle_at": 265, "setns": 268, "process_vm_readv": 270, "process_vm_writev": 271,
        "finit_module": 273, "kexec_file_load": 294, "bpf": 280, "userfaultfd": 282, **_COMMON_NEW,
    }),
}


class _Program:
    """A tiny assembler: forward jumps to labels, resolved when the program is finished."""

    def __init__(self) -> None:
        self.code: list[tuple[int, int | str, int | str, int]] = []
        self.labels: dict[str, int] = {}

    def ld(self, offset: int) -> None:
        self.code.append((_LD_W_ABS, 0, 0, offset))

    def jump(self, op: int, k: int, jt: int | str, jf: int | str) -> None:
        self.code.append((op, jt, jf, k))

    def ret(self, value: int) -> None:
        self.code.append((_RET_K, 0, 0, value))

    def label(self, name: str) -> None:
        self.labels[name] = len(self.code)

    def assemble(self) -> bytes:
        out = bytearray()
        for index, (op, jt, jf, k) in enumerate(self.code):
            offsets = []
            for target in (jt, jf):
                if isinstance(target, str):
                    delta = self.labels[target] - index - 1
                    if not 0 <= delta <= 255:
                        raise ValueError(f"jump to {target} out of range")
                    offsets.append(delta)
                else:
                    offsets.append(target)
            out += struct.pack("<HBBI", op, offsets[0], offsets[1], k)
        return bytes(out)


def build_filter(machine: str | None = None) -> bytes:
    """The filter for this machine's architecture, as the bytes of a ``sock_filter`` array."""
    arch = ARCHES.get(machine or platform.machine())
    if arch is None:
        raise RuntimeError(f"no seccomp syscall table for architecture {machine or platform.machine()!r}")
    nr = arch.numbers
    deny = RET_ERRNO | errno.EPERM
    p = _Program()
    p.ld(4)  # seccomp_data.arch
    p.jump(_JEQ_K, arch.audit, 1, 0)
    p.ret(RET_KILL_PROCESS)
    p.ld(0)  # seccomp_data.nr
    if arch.x32_bit:
        p.jump(_JGE_K, 0x40000000, "deny", 0)
    for name in DENIED:
        p.jump(_JEQ_K, nr[name], "deny", 0)
    for name in NOT_IMPLEMENTED:
        p.jump(_JEQ_K, nr[name], "enosys", 0)
    p.jump(_JEQ_K, nr["socket"], "socket", 0)
    p.jump(_JEQ_K, nr["ioctl"], "ioctl", 0)
    p.jump(_JEQ_K, nr["clone"], "clone", 0)
    p.ret(RET_ALLOW)
    p.label("socket")
    p.ld(16)  # args[0] low half: the address family
    p.jump(_JEQ_K, AF_NETLINK, "deny", 0)
    p.jump(_JEQ_K, AF_VSOCK, "deny", 0)
    p.ret(RET_ALLOW)
    p.label("ioctl")
    p.ld(24)  # args[1] low half: the request
    p.jump(_JEQ_K, TIOCSTI, "deny", 0)
    p.jump(_JEQ_K, TIOCLINUX, "deny", 0)
    p.ret(RET_ALLOW)
    p.label("clone")
    p.ld(16)  # args[0] low half: the flags
    p.jump(_JSET_K, NAMESPACE_FLAGS, "deny", 0)
    p.ret(RET_ALLOW)
    p.label("deny")
    p.ret(deny)
    p.label("enosys")
    p.ret(RET_ERRNO | errno.ENOSYS)
    return p.assemble()
