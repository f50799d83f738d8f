"""The wire of one container run: the wrapper script of its pid 1, and its attach stream.

The program's files travel on the container's stdin ahead of the program's own stdin: ``/bin/sh``
reads each with ``head -c SIZE``, which never reads past its count, says ``READY`` on stderr and runs
the program, which inherits the rest of stdin. Output comes back multiplexed on the same socket.
"""

from __future__ import annotations

import contextlib
import select
import shlex
import socket
import struct
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import SandboxError

READY = b"\x1erlvr-ready\n"  # the wrapper's first bytes on stderr, before the program runs
OOM_EXIT = 250  # the wrapper's exit status when the cgroup counted an out-of-memory kill


def wrapper_script(files: Mapping[str, bytes], *, executable: str, collect: str) -> str:
    """The /bin/sh script of pid 1: unpack the files from stdin, say ready, run "$@", report."""
    lines = ["cd /work || exit 1"]
    for name, data in files.items():
        q = shlex.quote(name)
        lines.append(f'head -c {len(data)} > {q} && [ "$(wc -c < {q})" -eq {len(data)} ] || exit 1')
    if executable:
        lines.append(f"chmod 755 {shlex.quote(executable)} || exit 1")
    lines.append("printf '\\036rlvr-ready\\n' >&2")
    if collect:  # a compile step: its chatter on stderr, the binary alone on stdout
        lines.append(f'"$@" >&2; rc=$?; if [ $rc -eq 0 ]; then cat {shlex.quote(collect)} || rc=1; fi')
    else:
        lines.append('"$@"; rc=$?')
    lines.append(
        "for f in /sys/fs/cgroup/memory.events /sys/fs/cgroup/memory/memory.oom_control; do"
        ' if [ -r "$f" ]; then while read -r k v; do'
        f' if [ "$k" = oom_kill ] && [ "$v" != 0 ]; then exit {OOM_EXIT}; fi; done < "$f"; fi; done'
    )
    lines.append("exit $rc")
    return "\n".join(lines)


def raw_socket(attached: Any) -> socket.socket:
    """The socket under docker's attach object (a SocketIO over a unix or TCP socket)."""
    sock = getattr(attached, "_sock", attached)
    if not isinstance(sock, socket.socket):
        raise SandboxError(f"cannot stream over {type(attached).__name__}: unix or tcp DOCKER_HOST expected")
    return sock


def hang_up(attached: Any, sock: socket.socket | None) -> tuple[None, None]:
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)  # wakes the stdin writer if it is blocked in sendall
        sock.close()
    if attached is not None:  # the HTTP response over the socket: closing it really closes the socket
        getattr(attached, "_response", attached).close()
    return None, None


def feed(sock: socket.socket, payload: bytes) -> None:
    try:
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)  # the container's stdin sees EOF
    except OSError:
        pass  # the container is gone or no longer reads: the reader side decides what happened


@dataclass
class Output:
    stdout: bytes
    stderr: bytes
    timed_out: bool
    over_cap: bool


def read_frames(sock: socket.socket, deadline: float, cap: int) -> Output:
    """Demultiplex the attach stream (8-byte headers: stream, 0, 0, 0, big-endian size) until EOF."""
    chunks: dict[int, list[bytes]] = {1: [], 2: []}
    buf = b""
    total = 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return Output(b"".join(chunks[1]), b"".join(chunks[2]), True, False)
        readable, _, _ = select.select([sock], [], [], min(left, 1.0))
        if not readable:
            continue
        data = sock.recv(1 << 16)
        if not data:
            break
        buf += data
        while len(buf) >= 8:
            kind, size = struct.unpack(">BxxxL", buf[:8])
            if len(buf) < 8 + size:
                break
            if kind in chunks:
                chunks[kind].append(buf[8 : 8 + size])
                total += size
            buf = buf[8 + size :]
        if total > cap + len(READY):
            return Output(b"".join(chunks[1]), b"".join(chunks[2]), False, True)
    return Output(b"".join(chunks[1]), b"".join(chunks[2]), False, False)
