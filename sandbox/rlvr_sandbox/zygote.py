"""The warm process inside a jail: it forks once per run and never runs untrusted code itself.

This file runs under the jail's own Python (``/usr/bin/python3 -I``), fed over its stdin by the
host, so nothing of the service's source is mounted in the jail. It is stdlib-only. The host imports
it too, for the frame format (`write_frame` / `FrameReader`).

One run is one forked process, made ready before the request arrives:

- it takes new mount and IPC namespaces and mounts a fresh size- and inode-capped tmpfs behind
  ``/work``, ``/tmp`` and ``/dev/shm`` (so nothing of a run survives it, and slots share nothing);
  it hands the zygote a descriptor of its ``/work`` (files go in and compiled binaries come back
  through it, with ``O_NOFOLLOW``), then drops to the slot's uid with no capabilities,
  ``no_new_privs`` and the seccomp filter, and waits;
- on the request it sets the rlimits and execs the program or, for Python, runs the source in this
  warm interpreter.

The zygote (root, a child subreaper) feeds stdin, drains stdout and stderr under a byte cap and
enforces the wall deadline. Its status is the kernel's wait status, which the program cannot forge.
When the program ends, or at the deadline, any process of the run still alive (background children,
``setsid`` and double forks: all run as the slot's uid) is killed with one ``kill(-1, SIGKILL)``
sent as that uid, which no fork can race.
"""

from __future__ import annotations

import atexit
import builtins
import contextlib
import ctypes
import fcntl
import json
import os
import resource
import select
import signal
import socket
import stat
import struct
import sys
import threading
import time
import traceback
from typing import Any

_HEADER = struct.Struct(">II")  # header length, number of blobs
_BLOB = struct.Struct(">Q")
_DIRECT = 1 << 18  # blobs larger than this are read straight into a buffer of their own size

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
PR_SET_CHILD_SUBREAPER = 36
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_BIND, MS_REC, MS_PRIVATE = 2, 4, 8, 4096, 16384, 1 << 18
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS, PR_CAPBSET_DROP, PR_SET_SECCOMP = 1, 38, 24, 22
SECCOMP_MODE_FILTER = 2
_CAP_V3 = 0x20080522
_SYS_CAPSET = {"x86_64": 126, "aarch64": 91}.get(os.uname().machine, -1)
BOX = "/.box"
# trusted Python programs the host names at start-up (its test harness), compiled once here before any fork:
# a run whose source is one of them skips compiling it (about a millisecond a run for the harness)
_PRECOMPILED: dict[str, Any] = {}


# ---------------------------------------------------------------------------------------- frames
def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def write_frame(fd: int, header: dict[str, Any], blobs: list[bytes] = ()) -> None:  # type: ignore[assignment]
    """One message: a JSON header and raw byte blobs (no base64, no pickle)."""
    head = json.dumps(header, separators=(",", ":")).encode()
    parts = [_HEADER.pack(len(head), len(blobs)), head]
    for blob in blobs:
        parts.append(_BLOB.pack(len(blob)))
        parts.append(blob)
    _write_all(fd, b"".join(parts))


class FrameReader:
    """Reads frames from a pipe with few system calls: one large read fills a buffer."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buf = bytearray()

    def _need(self, n: int, deadline: float | None) -> bool:
        while len(self.buf) < n:
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                    raise TimeoutError("no answer from the jail in time")
            chunk = os.read(self.fd, max(1 << 20, n - len(self.buf)))
            if not chunk:
                return False
            self.buf += chunk
        return True

    def _take(self, n: int, deadline: float | None) -> bytes:
        if n > _DIRECT and len(self.buf) < n:
            return self._take_direct(n, deadline)
        if not self._need(n, deadline):
            raise EOFError("truncated frame")
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def _take_direct(self, n: int, deadline: float | None) -> bytes:
        """A large blob (a compiled binary, a big stdin): read straight into one buffer of its size.

        Growing the shared buffer a pipe's worth at a time, then slicing it, cost twice as long for a few MB.
        """
        out = bytearray(n)
        have = len(self.buf)
        out[:have] = self.buf
        self.buf.clear()
        with memoryview(out) as view:
            while have < n:
                if deadline is not None:
                    left = deadline - time.monotonic()
                    if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                        raise TimeoutError("no answer from the jail in time")
                got = os.readv(self.fd, [view[have:]])
                if not got:
                    raise EOFError("truncated frame")
                have += got
        return bytes(out)

    def read(self, deadline: float | None = None) -> tuple[dict[str, Any], list[bytes]] | None:
        """The next message, or None at end of file. Past ``deadline`` raises TimeoutError."""
        if not self.buf and not self._need(1, deadline):
            return None
        head_len, count = _HEADER.unpack(self._take(_HEADER.size, deadline))
        header = json.loads(self._take(head_len, deadline))
        blobs = []
        for _ in range(count):
            (length,) = _BLOB.unpack(self._take(_BLOB.size, deadline))
            blobs.append(self._take(length, deadline))
        return header, blobs


# ------------------------------------------------------------------------------------- syscalls
_libc: Any = None


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(source: str, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _check(
        _libc.mount(source.encode(), target.encode(), fstype.encode() if fstype else None, flags,
                    data.encode() if data else None),
        f"mount {target}",
    )


# --------------------------------------------------------------------------------------- the run
def _program(ends: dict[str, int], control: socket.socket, config: dict[str, Any]) -> None:
    """The run's process, made ready before its request (never returns)."""
    ctl = -1
    try:
        order = (ends["stdin"], ends["stdout"], ends["stderr"])
        # move every source above the targets first, so no dup2 overwrites a later source
        high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 1000) for fd in order]
        go = fcntl.fcntl(ends["go"], fcntl.F_DUPFD_CLOEXEC, 1000)
        ctl = fcntl.fcntl(control.detach(), fcntl.F_DUPFD_CLOEXEC, 1000)
        for target, fd in enumerate(high):
            os.dup2(fd, target)
        os.closerange(3, 1000)
        for fd in high:
            os.close(fd)
        _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWIPC), "unshare")
        _setup_box(config)
        work = os.open("/work", os.O_PATH | os.O_DIRECTORY)
        sock = socket.socket(fileno=os.dup(ctl))
        socket.send_fds(sock, [b"r"], [work])
        sock.close()
        os.close(work)
        _drop_privileges(config)
        raw = b""
        while chunk := os.read(go, 1 << 16):
            raw += chunk
        if not raw:
            os._exit(0)  # the run was abandoned before it started
        req = json.loads(raw)
        source = None
        if req.get("python"):
            with open(f"/work/{req['python']}", encoding="utf-8", errors="surrogateescape") as fh:
                source = fh.read()
        lim = req["limits"]
        for res, value in (
            (resource.RLIMIT_FSIZE, lim["fsize_bytes"]),
            (resource.RLIMIT_NOFILE, lim["nofile"]),
            (resource.RLIMIT_NPROC, lim["nproc"]),
            (resource.RLIMIT_STACK, lim["stack_bytes"]),
        ):
            resource.setrlimit(res, (value, value))
        # SIGXCPU at the limit says why; SIGKILL a second later for a program that ignores it
        resource.setrlimit(resource.RLIMIT_CPU, (lim["cpu_s"], lim["cpu_s"] + 1))
        if lim.get("as_bytes"):
            resource.setrlimit(resource.RLIMIT_AS, (lim["as_bytes"], lim["as_bytes"]))
    except BaseException as exc:  # noqa: BLE001 - a failure here is the sandbox's, reported as such
        with contextlib.suppress(OSError):
            os.write(ctl, b"e" + f"{type(exc).__name__}: {exc}".encode()[:2000])
        os._exit(127)
    os.close(go)
    os.close(ctl)  # nothing of the jail's own stays open for the program
    if source is None:
        try:
            os.execvpe(req["argv"][0], req["argv"], req["env"])
        except OSError as exc:
            os.write(2, f"sandbox: cannot execute {req['argv'][0]}: {exc.strerror}\n".encode())
            os._exit(127)
    _run_python(source, req)


def _drop_privileges(config: dict[str, Any]) -> None:
    """Own uid/gid, no capabilities, no core dumps, no_new_privs, seccomp: in that order."""
    with open("/proc/self/oom_score_adj", "w") as fh:
        fh.write("1000")  # the program's processes are the OOM killer's first choice, never the jail's own
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    os.chdir("/work")
    uid = config["uid"]
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    header, data = (ctypes.c_uint32 * 2)(_CAP_V3, 0), (ctypes.c_uint32 * 6)()
    _check(_libc.syscall(_SYS_CAPSET, header, data), "capset")  # inheritable too: no capability at all
    _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "pdeathsig")
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    if "fprog" in config:
        _check(_libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(config["fprog"]), 0, 0), "seccomp")


class _Fprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def _run_python(source: str, req: dict[str, Any]) -> None:
    """Python's fast path: the source runs in this already-warm interpreter, as ``python3 main.py`` would."""
    for sig in (signal.SIGTERM, signal.SIGALRM, signal.SIGXCPU):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    main = req["python"]
    sys.argv = [main, *req["argv"][1:]]
    sys.path[0:0] = ["/work"]
    os.environ.clear()
    os.environ.update(req["env"])
    code = 0
    try:
        cached = _PRECOMPILED.get(source)  # the host's own harness, compiled once in the zygote
        compiled = cached if cached is not None and cached.co_filename == main else compile(source, main, "exec")
        del source, cached
        exec(compiled, {"__name__": "__main__", "__builtins__": builtins, "__file__": f"/work/{main}"})
    except SystemExit as exc:
        if exc.code is None:
            code = 0
        elif isinstance(exc.code, int):
            code = exc.code & 0xFF
        else:
            print(exc.code, file=sys.stderr)
            code = 1
    except BaseException as exc:  # noqa: BLE001 - the program's own failure: a traceback and exit 1, as python does
        tb = exc.__traceback__
        traceback.print_exception(type(exc), exc, tb.tb_next if tb is not None else None)  # not this frame
        code = 1
    try:
        threading._shutdown()  # type: ignore[attr-defined]
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:  # noqa: BLE001 - a failing flush (closed stdout) is the program's exit status 120
        code = code or 120
    os._exit(code)


def _setup_box(config: dict[str, Any]) -> None:
    """A fresh tmpfs, shared by /work, /tmp and /dev/shm under one size and inode cap."""
    _mount("none", "/", None, MS_REC | MS_PRIVATE)
    _mount("tmpfs", BOX, "tmpfs", MS_NOSUID | MS_NODEV,
           f"size={config['tmpfs_bytes']},nr_inodes={config['inodes']},mode=0755")
    uid = config["uid"]
    for name, mode, target in (("work", 0o755, "/work"), ("tmp", 0o1777, "/tmp"), ("shm", 0o1777, "/dev/shm")):
        path = f"{BOX}/{name}"
        os.mkdir(path)
        os.chmod(path, mode)
        os.chown(path, uid, uid)
        _mount(path, target, None, MS_BIND | MS_NOSUID | MS_NODEV)
    _check(_libc.umount2(BOX.encode(), MNT_DETACH), "umount box")


def _write_files(work: int, specs: list[dict[str, Any]], blobs: list[bytes], uid: int) -> None:
    for spec, data in zip(specs, blobs, strict=True):
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        fd = os.open(spec["name"], flags, spec["mode"], dir_fd=work)
        try:
            _write_all(fd, data)
            os.fchown(fd, uid, uid)
            os.fchmod(fd, spec["mode"])
        finally:
            os.close(fd)


def _collect(work: int, names: list[str], cap: int) -> tuple[list[dict[str, Any]], list[bytes]]:
    """Read back files the run made (every process of it dead), refusing links, devices, oversize files."""
    infos, blobs = [], []
    for name in names:
        data, error = b"", ""
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=work)
        except OSError as exc:
            error = f"missing: {exc.strerror}"
        else:
            try:
                st = os.fstat(fd)
                if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1:
                    error = "not a regular file"
                elif st.st_size > cap:
                    error = f"larger than {cap} bytes"
                else:
                    while len(data) <= cap and (chunk := os.read(fd, 1 << 20)):
                        data += chunk
                    if len(data) > cap:
                        data, error = b"", f"larger than {cap} bytes"
            finally:
                os.close(fd)
        infos.append({"name": name, "error": error})
        blobs.append(data)
    return infos, blobs


class _Run:
    """One run's process, forked and made ready before its request; the zygote's handles on it."""

    def __init__(self, config: dict[str, Any], uid: int) -> None:
        self.uid = uid
        self.pipes = {k: os.pipe() for k in ("stdin", "stdout", "stderr", "go")}
        ends = {"stdin": self.pipes["stdin"][0], "stdout": self.pipes["stdout"][1],
                "stderr": self.pipes["stderr"][1], "go": self.pipes["go"][0]}
        self.control, theirs = socket.socketpair()
        self.pid = os.fork()
        if self.pid == 0:
            try:
                self.control.close()
                _program(ends, theirs, {**config, "uid": uid})
            finally:
                os._exit(127)  # never back into the zygote's loop
        theirs.close()
        for fd in ends.values():
            os.close(fd)
        self.pidfd = os.pidfd_open(self.pid)
        # the descriptors this run still holds: numbers are reused by the next run, so close each once
        self.fds = {self.pipes["stdin"][1], self.pipes["stdout"][0], self.pipes["stderr"][0], self.pipes["go"][1],
                    self.pidfd}
        self.work = -1
        self.problem = ""
        self.before: Any = None

    def _await_ready(self) -> None:
        """Its set-up ran while the previous run (or the host) was busy: collect what it sent."""
        try:
            message, fds, _, _ = socket.recv_fds(self.control, 4096, 1)
        except OSError as exc:
            message, fds = b"e" + str(exc).encode(), []
        if message == b"r" and len(fds) == 1:
            self.work = fds[0]
            self.fds.add(self.work)
        else:
            for fd in fds:
                os.close(fd)
            self.problem = (message[1:] or b"the run's process died while getting ready").decode("utf-8", "replace")

    def _end(self, keep: int) -> None:
        """Kill and reap every process of this run still alive; ``keep`` is the next run's process."""
        killed = False
        while left := [pid for pid in _children() if pid != keep]:
            if not killed:
                _kill_uid(self.uid)
                killed = True
            for pid in left:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, 0)

    def close(self, keep: int) -> None:
        """End the run (started or not), reap it, release every descriptor."""
        with contextlib.suppress(ProcessLookupError):
            # a run never started may still be root, setting up; by pidfd, never a reused pid
            signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
        self._end(keep)
        for fd in list(self.fds):
            self._close(fd)
        self.control.close()

    def _close(self, fd: int) -> None:
        if fd in self.fds:
            self.fds.discard(fd)
            os.close(fd)

    def start(self, req: dict[str, Any], blobs: list[bytes]) -> float:
        """Hand the program its files and request; the time it started."""
        self._await_ready()
        if self.problem:
            raise RuntimeError(self.problem)
        _write_files(self.work, req["files"], blobs[1:], self.uid)
        program = {k: req[k] for k in ("argv", "python", "env", "limits")}
        self.before = resource.getrusage(resource.RUSAGE_CHILDREN)
        go = self.pipes["go"][1]
        os.write(go, json.dumps(program).encode())
        self._close(go)
        return time.monotonic()

    def finish(
        self, req: dict[str, Any], blobs: list[bytes], started: float, keep: int
    ) -> tuple[dict[str, Any], list[bytes]]:
        """Supervise the started run to its end; its answer, with the files asked back."""
        header, outputs = self._supervise(blobs[0], req["limits"], started, keep)
        infos, collected = _collect(self.work, req.get("collect", []), req["limits"]["collect_bytes"])
        header["collected"] = infos
        return header, outputs + collected

    def _supervise(
        self, stdin: bytes, lim: dict[str, Any], started: float, keep: int
    ) -> tuple[dict[str, Any], list[bytes]]:
        """Feed stdin, drain the outputs under the cap, end the run at the deadline or when it ends."""
        deadline = started + lim["wall_s"]
        cap = lim["output_bytes"]
        readers = {self.pipes["stdout"][0]: "stdout", self.pipes["stderr"][0]: "stderr"}
        out: dict[str, list[bytes]] = {"stdout": [], "stderr": []}
        sizes = dict.fromkeys(out, 0)
        writer, pending = self.pipes["stdin"][1], memoryview(stdin)
        if pending:
            os.set_blocking(writer, False)
        else:
            self._close(writer)
            writer = -1
        outcome = ""
        status: int | None = None
        usage: Any = None
        ended_at: float | None = None
        killed = False
        while readers or status is None:
            if status is not None and ended_at is None:
                ended_at = time.monotonic()
                self._end(keep)  # the program is done: so is everything it started
                killed = True
            left = deadline - time.monotonic()
            if left <= 0 and not killed:
                outcome = "timeout"
                _kill_uid(self.uid)
                killed = True
                ended_at = time.monotonic()
                continue
            wait = max(left, 0.0) if not killed else 5.0
            rlist = [*readers, *([self.pidfd] if status is None else [])]
            ready_r, ready_w, _ = select.select(rlist, [writer] if writer >= 0 else [], [], wait)
            if not ready_r and not ready_w and killed:
                break  # every process is dead; nothing more will come
            for fd in ready_r:
                if fd == self.pidfd:
                    _, status, usage = os.wait4(self.pid, 0)
                    continue
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    self._close(fd)
                    del readers[fd]
                    continue
                name = readers[fd]
                sizes[name] += len(chunk)
                if sizes["stdout"] + sizes["stderr"] > cap:
                    if not outcome:
                        outcome = "output_limit"
                        _kill_uid(self.uid)
                        killed = True
                        ended_at = time.monotonic()
                    continue
                out[name].append(chunk)
            if ready_w:
                try:
                    n = os.write(writer, pending[: 1 << 16])
                    pending = pending[n:]
                except BlockingIOError:
                    pass
                except BrokenPipeError:
                    pending = pending[:0]
                if not pending:
                    self._close(writer)
                    writer = -1
            if status is not None and writer >= 0:
                self._close(writer)
                writer = -1
        if writer >= 0:
            self._close(writer)
        for fd in readers:
            self._close(fd)
        if status is None:  # killed: collect it now
            _, status, usage = os.wait4(self.pid, 0)
        wall = (ended_at or time.monotonic()) - started
        self._end(keep)
        after, before = resource.getrusage(resource.RUSAGE_CHILDREN), self.before
        cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        header: dict[str, Any] = {"status": outcome or "exited", "wall_s": wall, "cpu_s": cpu,
                                  "maxrss_kb": usage.ru_maxrss if usage is not None else None,
                                  "output_bytes": sizes["stdout"] + sizes["stderr"]}
        problem = self._setup_problem()
        if problem:
            return {"status": "setup_error", "error": problem, "wall_s": wall}, [b"", b""]
        if os.WIFSIGNALED(status):
            header.update(signal=os.WTERMSIG(status), exit_code=None)
        else:
            header.update(signal=None, exit_code=os.WEXITSTATUS(status))
        if outcome:
            header["cpu_s"] = None  # cut short: its CPU time says nothing
        return header, [b"".join(out["stdout"]), b"".join(out["stderr"])]

    def _setup_problem(self) -> str:
        """A failure the run's process reported before it started the program, if any."""
        self.control.setblocking(False)
        try:
            message = self.control.recv(4096)
        except (BlockingIOError, OSError):
            return ""
        return message[1:].decode("utf-8", "replace") if message.startswith(b"e") else ""


def _kill_uid(uid: int) -> None:
    """SIGKILL every process of the slot's uid at once: sent as that uid, by a short-lived helper.

    ``kill(-1)`` walks the process list under the lock ``fork`` needs, so no process can be
    created during it, and a process with SIGKILL pending cannot fork: nothing survives.
    """
    if uid == 0:  # without root there are no uids of our own (one mapped uid): kill what can be found
        for child in _children():
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)
        return
    pid = os.fork()
    if pid == 0:
        try:
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            os.kill(-1, signal.SIGKILL)
        except OSError:
            pass  # ESRCH: no process of that uid left
        os._exit(0)
    os.waitpid(pid, 0)


def _children() -> list[int]:
    """The zygote's children: orphans of a run are reparented here (it is a child subreaper)."""
    pid = os.getpid()
    with open(f"/proc/{pid}/task/{pid}/children") as fh:
        return [int(child) for child in fh.read().split()]


def serve(in_fd: int = 0, out_fd: int = 1) -> None:
    """The zygote's loop: an init frame, then one run after another until end of file."""
    global _libc
    _libc = ctypes.CDLL(None, use_errno=True)
    _libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
    _libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    reader = FrameReader(in_fd)
    first = reader.read()
    if first is None:
        return
    config, init_blobs = first
    config["bpf"] = init_blobs[0] if init_blobs else b""
    for fd in config.pop("cgroup_fds", []):  # the zygote joins the slot's groups once; every run inherits them
        os.write(fd, b"0")
        os.close(fd)
    for module in config.get("preload", []):
        try:
            __import__(module)
        except ImportError:
            pass
    for name, source in config.get("precompile", []):
        _PRECOMPILED[source] = compile(source, name, "exec")
    for cap in range(64):  # an empty bounding set for every process the zygote forks (it never execs)
        if _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            break
    bpf = config["bpf"]
    if bpf:  # the filter's memory, built once and inherited by every fork
        config["bpf_buffer"] = ctypes.create_string_buffer(bpf, len(bpf))
        config["fprog"] = _Fprog(len(bpf) // 8, ctypes.addressof(config["bpf_buffer"]))
    import gc

    gc.collect()
    gc.freeze()  # fewer copy-on-write faults in every fork
    _check(_libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), "subreaper")
    write_frame(out_fd, {"ready": True, "pid": os.getpid(), "python": sys.version.split()[0]})
    # one run at a time, and the next one's process always getting ready meanwhile: under the other
    # of the slot's two uids, so that ending this run (kill(-1) as its uid) cannot touch it
    uids, turn = config["uids"], 0
    ready, problem = _new_run(config, uids[turn])
    while True:
        frame = reader.read()
        if frame is None:
            if ready is not None:
                ready.close(keep=-1)
            return
        req, blobs = frame
        current, ready = ready, None
        turn ^= 1
        try:
            if current is None:
                raise RuntimeError(problem)
            started = current.start(req, blobs)
            ready, problem = _new_run(config, uids[turn])
            header, outputs = current.finish(req, blobs, started, keep=ready.pid if ready else -1)
        except Exception as exc:  # noqa: BLE001 - the jail's own failure: the host retries on a fresh jail
            header, outputs = {"status": "setup_error", "error": f"{type(exc).__name__}: {exc}"}, [b"", b""]
        write_frame(out_fd, header, outputs)
        if current is not None:
            current.close(keep=ready.pid if ready else -1)
        if ready is None:
            ready, problem = _new_run(config, uids[turn])


def _new_run(config: dict[str, Any], uid: int) -> tuple[_Run | None, str]:
    try:
        return _Run(config, uid), ""
    except OSError as exc:
        return None, f"{type(exc).__name__}: {exc}"


if __name__ == "__main__":
    serve()
