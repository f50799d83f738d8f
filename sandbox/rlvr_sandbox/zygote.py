"""The warm process inside a jail: it forks once per run and never runs untrusted code itself.

This file runs under the jail's own Python (``/usr/bin/python3 -I``), fed over its stdin by the
host, so nothing of the service's source is mounted in the jail. It is stdlib-only. The host imports
it too, for the frame format (`write_frame` / `FrameReader`).

One run, three processes:

- **A** (forked from the zygote, root): new mount, pid and IPC namespaces; a fresh size-capped tmpfs
  behind ``/work``, ``/tmp`` and ``/dev/shm``; writes the input files; feeds stdin, drains stdout and
  stderr under a byte cap, enforces the wall deadline, reads back the files the host asked for.
- **B** (pid 1 of the run's pid namespace, root): mounts a ``/proc`` of that namespace, joins the
  run's cgroups, forks C, reaps everything and reports C's wait status. When B exits the kernel kills
  every process left in the namespace: setsid and double forks cannot outlive the run.
- **C** (the program): rlimits, its own uid/gid, no capabilities, ``no_new_privs``, the seccomp
  filter, then ``execve`` of the program or, for Python, the source run in this warm interpreter.
"""

from __future__ import annotations

import atexit
import builtins
import ctypes
import fcntl
import json
import os
import resource
import select
import signal
import stat
import struct
import sys
import threading
import time
import traceback
from typing import Any

_HEADER = struct.Struct(">II")  # header length, number of blobs
_BLOB = struct.Struct(">Q")

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_BIND, MS_REC, MS_PRIVATE = 2, 4, 8, 4096, 16384, 1 << 18
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS, PR_CAPBSET_DROP, PR_SET_SECCOMP = 1, 38, 24, 22
SECCOMP_MODE_FILTER = 2
_CAP_V3 = 0x20080522
_SYS_CAPSET = {"x86_64": 126, "aarch64": 91}.get(os.uname().machine, -1)
BOX = "/.box"


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
        if not self._need(n, deadline):
            raise EOFError("truncated frame")
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

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
def _child_c(fds: dict[str, int], go: int, status_fd: int, config: dict[str, Any]) -> None:
    """The program's process, forked and unprivileged before the request arrives (never returns)."""
    try:
        order = ("stdin", "stdout", "stderr")
        # move every source above the targets first, so no dup2 overwrites a later source
        high = [fcntl.fcntl(fds[name], fcntl.F_DUPFD_CLOEXEC, 1000) for name in order]
        go = fcntl.fcntl(go, fcntl.F_DUPFD_CLOEXEC, 1000 + len(order))
        status_fd = fcntl.fcntl(status_fd, fcntl.F_DUPFD_CLOEXEC, 1001 + len(order))
        for target, fd in enumerate(high):
            os.dup2(fd, target)
        os.closerange(len(order), 1000)
        os.closerange(1000, 1000 + len(order))
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
        os.write(status_fd, json.dumps(["setup", f"{type(exc).__name__}: {exc}"]).encode() + b"\n")
        os._exit(127)
    os.close(go)
    os.close(status_fd)  # the run's status is what pid 1 sees, never what the program says
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
        compiled = compile(source, main, "exec")
        del source
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


def _init_b(fds: dict[str, int], go: int, status_fd: int, config: dict[str, Any]) -> None:
    """pid 1 of the run: /proc, fork the program, reap everything, report its status (never returns)."""
    try:
        _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        pid = os.fork()
        if pid == 0:
            _child_c(fds, go, status_fd, config)
        for fd in (*fds.values(), go):
            os.close(fd)
        while True:
            try:
                got, status, _ = os.wait4(-1, 0)
            except ChildProcessError:
                os._exit(0)
            if got == pid:
                usage = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu = usage.ru_utime + usage.ru_stime
                os.write(status_fd, json.dumps([status, cpu, usage.ru_maxrss]).encode() + b"\n")
                os._exit(0)
    except BaseException as exc:  # noqa: BLE001
        try:
            os.write(status_fd, json.dumps(["setup", f"{type(exc).__name__}: {exc}"]).encode() + b"\n")
        finally:
            os._exit(1)


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


def _write_files(specs: list[dict[str, Any]], blobs: list[bytes], uid: int) -> None:
    for spec, data in zip(specs, blobs, strict=True):
        fd = os.open(f"/work/{spec['name']}", os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, spec["mode"])
        try:
            _write_all(fd, data)
            os.fchown(fd, uid, uid)
            os.fchmod(fd, spec["mode"])
        finally:
            os.close(fd)


def _collect(names: list[str], cap: int) -> tuple[list[dict[str, Any]], list[bytes]]:
    """Read back files the program made, refusing links, devices and oversize files."""
    infos, blobs = [], []
    for name in names:
        data, error = b"", ""
        try:
            fd = os.open(f"/work/{name}", os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
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


def _prepare_run(config: dict[str, Any]) -> tuple[int, dict[str, tuple[int, int]], int]:
    """In A: the run's namespaces, tmpfs and processes B and C, all before the request arrives."""
    _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC), "unshare")
    _setup_box(config)
    pipes = {k: os.pipe() for k in ("stdin", "stdout", "stderr", "status", "go")}
    child_ends = {"stdin": pipes["stdin"][0], "stdout": pipes["stdout"][1], "stderr": pipes["stderr"][1]}
    keep = {*child_ends.values(), pipes["go"][0], pipes["status"][1]}
    pid = os.fork()
    if pid == 0:
        for fd in range(3, 1000):  # B keeps only its own ends (the zygote's pipes included, none survive)
            if fd not in keep:
                try:
                    os.close(fd)
                except OSError:
                    pass
        _init_b(child_ends, pipes["go"][0], pipes["status"][1], config)
    for fd in keep:
        os.close(fd)
    return pid, pipes, os.pidfd_open(pid)


def _run_a(req_fd: int, out_fd: int, done_fd: int, config: dict[str, Any]) -> None:
    """Process A: prepare, wait for the request on ``req_fd``, supervise, answer (never returns)."""
    prepared = None
    problem = ""
    try:
        prepared = _prepare_run(config)
    except BaseException as exc:  # noqa: BLE001 - reported as this run's sandbox error
        problem = f"{type(exc).__name__}: {exc}"
    frame = FrameReader(req_fd).read()  # the host sends the next request only after this run's answer
    if frame is None:
        os._exit(EXIT_EOF)
    received = time.monotonic()
    req, blobs = frame
    try:
        if prepared is None:
            raise RuntimeError(problem)
        pid, pipes, pidfd = prepared
        _write_files(req["files"], blobs[1:], config["uid"])
        program = {k: req[k] for k in ("argv", "python", "env", "limits")}
        os.write(pipes["go"][1], json.dumps(program).encode())
        os.close(pipes["go"][1])
        started = time.monotonic()
        feeds = {pipes["stdin"][1]: blobs[0]}
        header, outputs = _supervise(pid, pidfd, pipes, feeds, req["limits"], started)
        if req.get("collect"):
            os.kill(pid, signal.SIGKILL)  # no process of the run may touch the files being read back
            os.waitpid(pid, 0)
            prepared = None
        infos, collected = _collect(req.get("collect", []), req["limits"]["collect_bytes"])
        header["collected"] = infos
        header["times"] = [received, started, time.monotonic()]
    except BaseException as exc:  # noqa: BLE001 - anything here is the sandbox's failure, not the program's
        header, outputs, collected = {"status": "setup_error", "error": f"{type(exc).__name__}: {exc}"}, [b""] * 2, []
    write_frame(out_fd, header, outputs + collected)
    os.write(done_fd, b"1")
    if prepared is not None:
        try:
            os.kill(prepared[0], signal.SIGKILL)  # whatever is left of the run dies with its pid 1
        except ProcessLookupError:
            pass
        os.waitpid(prepared[0], 0)
    os._exit(0)


def _supervise(
    pid: int, pidfd: int, pipes: dict[str, tuple[int, int]], feeds: dict[int, bytes], lim: dict[str, Any],
    started: float,
) -> tuple[dict[str, Any], list[bytes]]:
    """Feed the input pipes, drain the outputs under the cap, kill the namespace at the deadline."""
    deadline = started + lim["wall_s"]
    cap = lim["output_bytes"]
    readers = {pipes["stdout"][0]: "stdout", pipes["stderr"][0]: "stderr", pipes["status"][0]: "status"}
    out: dict[str, list[bytes]] = {"stdout": [], "stderr": [], "status": []}
    sizes = dict.fromkeys(out, 0)
    writers: dict[int, memoryview] = {}
    for fd, data in feeds.items():
        if data:
            os.set_blocking(fd, False)
            writers[fd] = memoryview(data)
        else:
            os.close(fd)
    outcome = ""
    exited_at: float | None = None
    while readers or writers:
        if exited_at is None and out["status"] and b"\n" in out["status"][-1] and len(readers) == 1:
            exited_at = time.monotonic()  # the program's status is in and its outputs are closed: done
            break
        now = time.monotonic()
        left = (exited_at + 1.0 if exited_at is not None else deadline) - now
        if left <= 0:
            if exited_at is not None:
                break  # the namespace is dead, so the pipes are closing: stop waiting for stragglers
            outcome = "timeout"
            os.kill(pid, signal.SIGKILL)
            exited_at = time.monotonic()
            continue
        rlist = [*readers, pidfd] if exited_at is None else list(readers)
        ready_r, ready_w, _ = select.select(rlist, list(writers), [], left)
        for fd in ready_r:
            if fd == pidfd:
                exited_at = time.monotonic()
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                os.close(fd)
                del readers[fd]
                continue
            name = readers[fd]
            sizes[name] += len(chunk)
            if name == "status" and sizes[name] > 4096:
                continue  # pid 1 writes one short line; nothing else can reach this pipe
            if name != "status" and sizes["stdout"] + sizes["stderr"] > cap:
                if not outcome:
                    outcome = "output_limit"
                    os.kill(pid, signal.SIGKILL)
                continue
            out[name].append(chunk)
        for fd in ready_w:
            try:
                n = os.write(fd, writers[fd][: 1 << 16])
                writers[fd] = writers[fd][n:]
            except BlockingIOError:
                continue
            except BrokenPipeError:
                writers[fd] = writers[fd][:0]
            if not writers[fd]:
                os.close(fd)
                del writers[fd]
        if exited_at is not None:
            for fd in writers:
                os.close(fd)
            writers.clear()
    for fd in [*readers, *writers]:
        os.close(fd)
    if exited_at is None:
        exited_at = time.monotonic()
    wall = exited_at - started
    header: dict[str, Any] = {"status": outcome or "exited", "wall_s": wall,
                              "output_bytes": sizes["stdout"] + sizes["stderr"]}
    lines = b"".join(out["status"]).splitlines()
    info = json.loads(lines[0]) if lines else None
    if info and info[0] == "setup":
        return {"status": "setup_error", "error": info[1], "wall_s": wall}, [b"", b""]
    if info:
        status, cpu, maxrss = info
        header.update(cpu_s=cpu, maxrss_kb=maxrss)
        if os.WIFSIGNALED(status):
            header.update(signal=os.WTERMSIG(status), exit_code=None)
        else:
            header.update(signal=None, exit_code=os.WEXITSTATUS(status))
    else:  # killed before the program ended (timeout, output cap)
        header.update(cpu_s=None, maxrss_kb=None, signal=signal.SIGKILL, exit_code=None)
    return header, [b"".join(out["stdout"]), b"".join(out["stderr"])]


EXIT_EOF = 3  # A's exit status when the host has closed the request pipe


class _Prepared:
    """A run process, prepared and waiting to read its request from the host's pipe itself."""

    def __init__(self, in_fd: int, out_fd: int, config: dict[str, Any]) -> None:
        self.done_r, done_w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            try:
                os.close(self.done_r)
                _run_a(in_fd, out_fd, done_w, config)
            finally:
                os._exit(70)
        os.close(done_w)

    def finish(self, out_fd: int) -> bool:
        """Wait until the run has answered, or answer for it if it died. False when the host has gone.

        A run that answered is not waited for: its namespaces are torn down (an RCU grace period or
        two in the kernel) while the next run is prepared; it is reaped later.
        """
        answered = os.read(self.done_r, 1)
        os.close(self.done_r)
        if answered:
            return True
        _, status = os.waitpid(self.pid, 0)
        if os.WIFEXITED(status) and os.WEXITSTATUS(status) == EXIT_EOF:
            return False
        write_frame(out_fd, {"status": "setup_error", "error": f"run supervisor died (status {status})"}, [b"", b""])
        return True


def _reap() -> None:
    """Collect the run processes that have exited since the last call."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


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
    write_frame(out_fd, {"ready": True, "pid": os.getpid(), "python": sys.version.split()[0]})
    # one run at a time: the next run process is prepared (namespaces, tmpfs, forked and unprivileged
    # program process) as soon as the previous one has answered, off the request's critical path
    while _Prepared(in_fd, out_fd, config).finish(out_fd):
        _reap()


if __name__ == "__main__":
    serve()
