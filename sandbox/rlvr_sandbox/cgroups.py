"""Per-slot control groups: one memory limit and one process limit for all of a run's processes.

Each slot gets a memory and a pids group. The program's init process joins them by writing to
``cgroup.procs`` through file descriptors opened here and passed into the jail (no cgroupfs is
mounted inside). Before a run the host sets the limits; after it reads the peak and whether the
kernel's OOM killer fired. Both cgroup v1 (separate hierarchies) and v2 (unified) layouts work;
where neither is writable the sandbox falls back to per-process ``RLIMIT_AS``.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

ROOT = Path("/sys/fs/cgroup")


def _group_dir(hierarchy: Path, own: str) -> Path:
    """This process's group in a hierarchy. In a container with its own cgroup namespace on a v1 host,
    /proc/self/cgroup can name the host's path while the container sees its group as the root."""
    path = hierarchy / own.lstrip("/")
    return path if path.is_dir() else hierarchy


def _own_paths() -> dict[str, str]:
    """controller → this process's group path, from /proc/self/cgroup ('' key: the v2 group)."""
    out: dict[str, str] = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for name in controllers.split(",") if controllers else [""]:
            out[name] = path
    return out


@dataclass
class SlotGroup:
    """The groups of one slot."""

    memory: Path
    pids: Path
    v2: bool
    _limits: tuple[int, int] = (0, 0)
    _ooms: int = 0

    def __post_init__(self) -> None:
        self._ooms = self._read_oom_kills()

    def procs_fds(self) -> list[int]:
        """Open ``cgroup.procs`` files, to be inherited by the jail (the caller closes them)."""
        paths = [self.memory] if self.v2 else [self.memory, self.pids]
        return [os.open(p / "cgroup.procs", os.O_WRONLY | os.O_CLOEXEC) for p in paths]

    def prepare(self, memory_bytes: int, max_pids: int) -> None:
        """Set the limits of the next run; a write is skipped when the value is already in force."""
        if self._limits == (memory_bytes, max_pids):
            return
        if self.v2:
            (self.memory / "memory.max").write_text(str(memory_bytes))
            with contextlib.suppress(OSError):
                (self.memory / "memory.swap.max").write_text("0")
        else:
            limit, memsw = self.memory / "memory.limit_in_bytes", self.memory / "memory.memsw.limit_in_bytes"
            if memsw.exists():  # memsw must stay >= the limit: order the two writes by direction
                try:
                    memsw.write_text(str(memory_bytes))
                    limit.write_text(str(memory_bytes))
                except OSError:
                    limit.write_text(str(memory_bytes))
                    memsw.write_text(str(memory_bytes))
            else:
                limit.write_text(str(memory_bytes))
        (self.pids / "pids.max").write_text(str(max_pids))
        self._limits = (memory_bytes, max_pids)

    def oom_killed(self) -> bool:
        """Whether the kernel's OOM killer fired in this group since the last call."""
        count = self._read_oom_kills()
        fired = count > self._ooms
        self._ooms = count
        return fired

    def _read_oom_kills(self) -> int:
        name = "memory.events" if self.v2 else "memory.oom_control"
        for line in (self.memory / name).read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        return 0

    def remove(self) -> None:
        for path in {self.memory, self.pids}:
            with contextlib.suppress(OSError):
                path.rmdir()


class CgroupTree:
    """A group for this sandbox under the service's own groups; one child per slot."""

    def __init__(self, name: str) -> None:
        self.name = name
        own = _own_paths()
        self.v2 = "memory" not in own
        if self.v2:
            parent = _group_dir(ROOT, own.get("", "/"))
            base = parent / name
            controllers = (parent / "cgroup.controllers").read_text().split()
            if "memory" not in controllers or "pids" not in controllers:
                raise OSError("cgroup v2 without the memory and pids controllers")
            base.mkdir(exist_ok=True)
            (base / "cgroup.subtree_control").write_text("+memory +pids")
            self.bases = [base]
        else:
            if "pids" not in own:
                raise OSError("cgroup v1 without a pids hierarchy")
            self.bases = [
                _group_dir(ROOT / "memory", own["memory"]) / name,
                _group_dir(ROOT / "pids", own["pids"]) / name,
            ]
            for base in self.bases:
                base.mkdir(exist_ok=True)

    def slot(self, index: int) -> SlotGroup:
        if self.v2:
            path = self.bases[0] / f"slot{index}"
            path.mkdir(exist_ok=True)
            return SlotGroup(path, path, True)
        mem, pids = (b / f"slot{index}" for b in self.bases)
        mem.mkdir(exist_ok=True)
        pids.mkdir(exist_ok=True)
        return SlotGroup(mem, pids, False)

    def remove(self) -> None:
        for base in self.bases:
            for child in base.glob("slot*"):
                with contextlib.suppress(OSError):
                    child.rmdir()
            with contextlib.suppress(OSError):
                base.rmdir()


PREFIX = "rlvr-sandbox-"
_count = itertools.count()


def _remove_stale(parent: Path) -> None:
    """Groups left by sandboxes whose process is gone (killed before it could clean up)."""
    for path in parent.glob(f"{PREFIX}*"):
        pid = path.name[len(PREFIX) :].split("-")[0]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            for child in path.glob("slot*"):
                with contextlib.suppress(OSError):
                    child.rmdir()
            with contextlib.suppress(OSError):
                path.rmdir()


def open_tree() -> CgroupTree | None:
    """This sandbox's own groups, or None (with a log line) where the cgroup file system is not writable."""
    if not shutil.which("bwrap") or os.geteuid() != 0:
        return None
    try:
        tree = CgroupTree(f"{PREFIX}{os.getpid()}-{next(_count)}")
        for base in tree.bases:
            _remove_stale(base.parent)
        return tree
    except OSError as exc:
        log.warning("sandbox: no writable cgroups (%s); memory is capped per process with RLIMIT_AS", exc)
        return None
