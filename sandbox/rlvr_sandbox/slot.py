"""One jail: a bubblewrap sandbox with a warm zygote inside, driven over two pipes.

The slot-level jail (bubblewrap) gives the zygote its own mount, pid, network (no interfaces but
loopback), IPC and UTS namespaces; read-only ``/usr`` and the handful of ``/etc`` files programs
need; no ``/home``, ``/root``, ``/srv``, service source or secrets; a scrubbed environment; and it
dies with the service. Each run then gets its own namespaces inside it (see ``zygote.py``).
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import IO, Any

from . import zygote
from .cgroups import SlotGroup
from .errors import SandboxError

log = logging.getLogger(__name__)

PATH = "/usr/local/bin:/usr/bin:/bin"
_BOOT = (
    "import os,sys\n"
    "n=int(sys.argv[1]);b=b''\n"
    "while len(b)<n:b+=os.read(0,n-len(b))\n"
    "g={'__name__':'zygote'}\n"
    "exec(compile(b,'zygote.py','exec'),g)\n"
    "g['serve']()\n"
)
_ETC_FILES = ("ld.so.cache", "ld.so.conf", "localtime", "alternatives", "mime.types")
# the zygote's: it never runs untrusted code; the program's process drops every one of them
_CAPS = ("CAP_SYS_ADMIN", "CAP_SETUID", "CAP_SETGID", "CAP_CHOWN", "CAP_FOWNER", "CAP_DAC_OVERRIDE", "CAP_SETPCAP",
         "CAP_KILL")


@dataclass(frozen=True)
class JailConfig:
    """How every slot's jail is built."""

    python: str = "/usr/bin/python3"  # the jail's interpreter: runs the zygote and Python programs
    preload: tuple[str, ...] = ()
    precompile: tuple[tuple[str, str], ...] = ()  # (file name, source) of trusted Python programs: compiled once
    seccomp: bytes = b""
    recycle_after: int = 500
    start_timeout_s: float = 20.0
    extra_ro_binds: tuple[str, ...] = ()
    tmpfs_mb: int = 256  # /work, /tmp and /dev/shm together, per run
    inodes: int = 8192


def bwrap_argv(config: JailConfig, hostname: str = "sandbox") -> list[str]:
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise SandboxError("bubblewrap (bwrap) is not installed: apt-get install bubblewrap")
    argv = [
        bwrap, "--die-with-parent", "--new-session", "--unshare-pid", "--unshare-net", "--unshare-ipc",
        "--unshare-uts", "--unshare-cgroup-try", "--hostname", hostname, "--clearenv",
        "--setenv", "PATH", PATH, "--setenv", "LC_ALL", "C.UTF-8", "--setenv", "HOME", "/work",
        "--ro-bind", "/usr", "/usr",
        # /usr/local is where a service image installs its own Python and packages: not the jail's business
        "--tmpfs", "/usr/local",
    ]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        host = Path("/") / name
        if host.is_symlink():
            argv += ["--symlink", os.readlink(host), f"/{name}"]
        elif host.is_dir():
            argv += ["--ro-bind", str(host), f"/{name}"]
    argv += ["--perms", "0755", "--dir", "/etc"]
    for name in _ETC_FILES:
        argv += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    for path in config.extra_ro_binds:
        argv += ["--ro-bind", path, path]
    if os.geteuid() != 0:
        argv += ["--unshare-user", "--uid", "0", "--gid", "0"]
    argv += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--dir", "/work", "--dir", zygote.BOX]
    for cap in _CAPS:
        argv += ["--cap-add", cap]
    return argv


@dataclass
class Slot:
    """One warm jail. Not thread-safe: the pool hands a slot to one thread at a time."""

    index: int
    config: JailConfig
    group: SlotGroup | None = None
    uids: tuple[int, int] = (0, 0)  # runs alternate between two (0 only without root: one mapped uid)
    runs: int = 0
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _reader: zygote.FrameReader = field(default_factory=lambda: zygote.FrameReader(-1), repr=False)
    _log: IO[bytes] | None = field(default=None, repr=False)

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        """Start the jail; a previous one (dead, or being replaced) is killed and its pipes closed first."""
        self.kill()
        source = resources.files("rlvr_sandbox").joinpath("zygote.py").read_bytes()
        cg_fds = self.group.procs_fds() if self.group else []
        argv = [*bwrap_argv(self.config), "--", self.config.python, "-I", "-c", _BOOT, str(len(source))]
        self._log = tempfile.TemporaryFile()  # the zygote's stderr: quiet unless it breaks
        try:
            self._proc = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, pass_fds=cg_fds,
                env={"PATH": PATH}, start_new_session=True,
            )
        finally:
            for fd in cg_fds:
                os.close(fd)
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._reader = zygote.FrameReader(self._proc.stdout.fileno())
        try:
            zygote._write_all(self._proc.stdin.fileno(), source)
            # pass_fds keeps the numbers, and bubblewrap hands inherited descriptors to the zygote
            init = {"preload": list(self.config.preload), "precompile": [list(p) for p in self.config.precompile],
                    "cgroup_fds": cg_fds, "uids": list(self.uids),
                    "tmpfs_bytes": self.config.tmpfs_mb << 20, "inodes": self.config.inodes}
            zygote.write_frame(self._proc.stdin.fileno(), init, [self.config.seccomp])
            ready = self._read(time.monotonic() + self.config.start_timeout_s)
        except (OSError, TimeoutError, EOFError) as exc:
            tail = self._log_tail()
            self.kill()
            raise SandboxError(f"jail did not start: {exc}{tail}") from exc
        if not ready[0].get("ready"):
            self.kill()
            raise SandboxError(f"jail did not start: {ready[0]}")
        self.runs = 0

    def _read(self, deadline: float) -> tuple[dict[str, Any], list[bytes]]:
        assert self._proc is not None and self._proc.stdout is not None
        frame = self._reader.read(deadline)
        if frame is None:
            raise EOFError("the jail closed its pipe")
        return frame

    def run(self, header: dict[str, Any], blobs: list[bytes]) -> tuple[dict[str, Any], list[bytes]]:
        """One run; any failure of the jail itself raises SandboxError and leaves the slot dead."""
        if not self.alive() or self.runs >= self.config.recycle_after:
            self.kill()
            self.start()
        assert self._proc is not None and self._proc.stdin is not None
        deadline = time.monotonic() + float(header["limits"]["wall_s"]) + 10.0
        try:
            zygote.write_frame(self._proc.stdin.fileno(), header, blobs)
            result = self._read(deadline)
        except (OSError, TimeoutError, EOFError) as exc:
            tail = self._log_tail()
            self.kill()
            raise SandboxError(f"jail failed during the run: {exc}{tail}") from exc
        self.runs += 1
        return result

    def _log_tail(self) -> str:
        if self._log is None:
            return ""
        self._log.seek(0, os.SEEK_END)
        size = self._log.tell()
        self._log.seek(max(0, size - 600))
        text = self._log.read().decode("utf-8", "replace").strip()
        return f" (jail stderr: {text})" if text else ""

    def kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                pipe.close()
        proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

