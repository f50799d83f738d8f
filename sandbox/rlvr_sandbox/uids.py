"""Machine-wide unique user ids for the slots of each sandbox.

The kernel counts ``RLIMIT_NPROC`` per real uid across the whole machine (and across containers
without user namespaces), so two sandboxes whose slots shared a uid could starve each other with a
fork bomb. Each sandbox claims a block of uids: a random block in a large range, held by an
``flock`` on a file of that block's own for the sandbox's lifetime (released by the kernel when the
process dies), so sandboxes on one machine never collide and sandboxes in different containers
almost never do.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import tempfile
from pathlib import Path

FIRST_UID = 1 << 24  # far above the ids of real users and of container images' users
LAST_UID = (1 << 31) - 1
BLOCK = 256  # uids per sandbox: one per slot


def _lock_dir() -> Path:
    for candidate in (Path("/run/rlvr-sandbox"), Path(tempfile.gettempdir()) / "rlvr-sandbox"):
        with contextlib.suppress(OSError):
            candidate.mkdir(mode=0o700, exist_ok=True)
            return candidate
    raise OSError("no directory for the sandbox's uid locks")


class UidBlock:
    """``BLOCK`` consecutive uids held by this process until ``release``."""

    def __init__(self, *, attempts: int = 64) -> None:
        self.size = BLOCK
        blocks = (LAST_UID - FIRST_UID) // self.size
        directory = _lock_dir()
        rng = random.SystemRandom()
        for _ in range(attempts):
            index = rng.randrange(blocks)
            fd = os.open(directory / f"uids-{index}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            self._fd: int | None = fd
            self.first = FIRST_UID + index * self.size
            return
        raise OSError(f"no free block of {self.size} uids after {attempts} tries")

    def uid(self, slot: int) -> int:
        if not 0 <= slot < self.size:
            raise ValueError(f"slot {slot} outside a block of {self.size} uids")
        return self.first + slot

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
