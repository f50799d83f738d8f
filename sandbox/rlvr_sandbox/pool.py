"""The sandbox: a pool of warm jails, a compile cache, and `execute` for one program run.

Thread-safe: each call takes a free slot (a warm jail) for the length of one run. A jail that
fails is replaced, and the run is tried once more on a fresh jail before it is reported as a
``sandbox_error`` (which the verifiers turn into an item ``error``, never a score).
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import signal
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from .cgroups import CgroupTree, open_tree
from .compile_cache import CompileCache, compile_failure, program_key
from .errors import SandboxError
from .harness import PYTHON_HARNESS
from .languages import Language, check_file_names, host_paths, load_languages, resolve
from .seccomp import build_filter
from .slot import PATH, JailConfig, Slot
from .uids import BLOCK, UidBlock

log = logging.getLogger(__name__)

# what the warm Python interpreter imports before forking: the modules test programs use most
PYTHON_PRELOAD = (
    "typing", "collections", "re", "math", "itertools", "functools", "heapq", "bisect", "string", "json",
    "random", "fractions", "decimal", "datetime", "copy", "operator", "statistics", "hashlib", "io",
)
# what a runtime prints when an allocation fails below the cgroup's limit (then it exits by itself, not OOM-killed):
# Python, C++, Java (its heap is sized from the limit), Ruby, Go, Rust, V8
OUT_OF_MEMORY = (
    b"MemoryError", b"std::bad_alloc", b"java.lang.OutOfMemoryError", b"(NoMemoryError)",
    b"fatal error: runtime: out of memory", b"memory allocation of ", b"JavaScript heap out of memory",
)
_SLACK_MB = 48  # the warm processes' own pages are charged to the run's group too


class RunStatus(str, Enum):
    OK = "ok"  # exited with status 0
    RUNTIME_ERROR = "runtime_error"
    TIMEOUT = "timeout"
    MEMORY_LIMIT = "memory_limit"
    OUTPUT_LIMIT = "output_limit"
    COMPILE_ERROR = "compile_error"
    SANDBOX_ERROR = "sandbox_error"


@dataclass(frozen=True)
class SandboxConfig:
    slots: int = field(default_factory=lambda: max(1, len(os.sched_getaffinity(0))))
    python: str = "/usr/bin/python3"
    recycle_after: int = 500
    tmpfs_mb: int = 256
    max_processes: int = 64
    max_open_files: int = 256
    max_file_mb: int = 64
    output_limit_mb: int = 16
    stack_mb: int = 64
    compile_cache_entries: int = 1024
    compile_cache_mb: int = 256
    languages_file: Path | None = None
    cgroups: bool = True
    seccomp: bool = True


@dataclass(frozen=True)
class Execution:
    """One run of one program."""

    status: RunStatus
    exit_code: int | None = None
    signal: int | None = None
    stdout: bytes = b""
    stderr: bytes = b""
    artifact: bytes = b""  # the file read back after the run (a compile step's binary)
    fetched: dict[str, bytes] = field(default_factory=dict)  # files read back after a run (``execute(fetch=)``)
    time_s: float = 0.0
    cpu_s: float | None = None
    memory_mb: float | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.status is RunStatus.OK


class Sandbox:
    """Runs programs in jails. ``execute`` is the one entry point; ``close`` kills every jail."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        self.languages = load_languages(self.config.languages_file)
        if 2 * self.config.slots > BLOCK:
            raise ValueError(f"at most {BLOCK // 2} slots per sandbox")
        self._tree: CgroupTree | None = open_tree() if self.config.cgroups else None
        self._uids = UidBlock() if os.geteuid() == 0 else None
        self._jail = JailConfig(
            python=self.config.python,
            preload=PYTHON_PRELOAD,
            seccomp=build_filter() if self.config.seccomp else b"",
            recycle_after=self.config.recycle_after,
            tmpfs_mb=self.config.tmpfs_mb,
            extra_ro_binds=host_paths(self.languages.values()),
            precompile=tuple((lang.source, PYTHON_HARNESS) for lang in self.languages.values()
                             if lang.warm == "python"),  # the test harness: compiled once per jail, not per run
        )
        self._idle: queue.LifoQueue[Slot] = queue.LifoQueue()
        self._created = 0
        self._lock = threading.Lock()
        self._free = threading.Semaphore(self.config.slots)
        self.cache = CompileCache(self.config.compile_cache_entries, self.config.compile_cache_mb << 20)
        self._closed = False
        self._counts = {"runs": 0, "jail_restarts": 0}

    @property
    def stats(self) -> dict[str, int]:
        return {**self._counts, "compiles": self.cache.compiles, "compile_cache_hits": self.cache.hits}

    @property
    def uids(self) -> range:
        """The uids this sandbox's programs run as (two per slot: runs alternate between them)."""
        first = self._uids.first if self._uids else 0
        return range(first, first + (2 * self.config.slots if self._uids else 1))

    @property
    def memory_limit_mode(self) -> str:
        return "cgroup" if self._tree else "rlimit"

    def language(self, name: str) -> Language:
        return resolve(self.languages, name)

    # ------------------------------------------------------------------------------ slots
    @contextlib.contextmanager
    def _slot(self) -> Iterator[Slot]:
        if self._closed:
            raise SandboxError("the sandbox is closed")
        self._free.acquire()
        try:
            try:
                slot = self._idle.get_nowait()
            except queue.Empty:
                with self._lock:
                    index = self._created
                    self._created += 1
                group = self._tree.slot(index) if self._tree else None
                uids = (self._uids.uid(2 * index), self._uids.uid(2 * index + 1)) if self._uids else (0, 0)
                slot = Slot(index, self._jail, group, uids)
            try:
                yield slot
            finally:
                self._idle.put(slot)
        finally:
            self._free.release()

    def warm_up(self) -> None:
        """Start every jail now rather than on first use (a jail that fails to start is released, and raises)."""
        with contextlib.ExitStack() as held:
            for _ in range(self.config.slots):
                slot = held.enter_context(self._slot())
                if not slot.alive():
                    slot.start()

    def close(self) -> None:
        self._closed = True
        while True:
            try:
                self._idle.get_nowait().kill()
            except queue.Empty:
                break
        if self._tree:
            self._tree.remove()
        if self._uids:
            self._uids.release()

    # -------------------------------------------------------------------------- running
    def execute(
        self,
        language: str | Language,
        code: str | bytes,
        *,
        stdin: bytes = b"",
        files: Mapping[str, bytes] | None = None,
        timeout_s: float = 10.0,
        memory_mb: int = 512,
        fetch: Sequence[str] = (),
    ) -> Execution:
        """Compile (once per distinct source) and run ``code``; ``files`` are put beside it in /work.

        ``fetch`` names files of /work to read back after the run, into ``Execution.fetched`` (those that exist
        as regular files within the size limit; the others are left out).
        """
        lang = language if isinstance(language, Language) else self.language(language)
        source = code.encode() if isinstance(code, str) else code
        extra = dict(files or {})
        check_file_names([*extra, *fetch, lang.source, *([lang.binary] if lang.compiled else [])])
        if lang.compiled:
            binary = self._compiled(lang, source, extra)
            if isinstance(binary, Execution):
                return binary
            run_files = {**extra, lang.binary: binary}
            modes = {lang.binary: 0o755}
        else:
            run_files = {**extra, lang.source: source}
            modes = {}
        return self._run(
            lang, lang.run_argv(memory_mb), run_files, modes, stdin=stdin, timeout_s=timeout_s,
            memory_mb=memory_mb, warm=lang.warm == "python", fetch=list(fetch),
        )

    def _compiled(self, lang: Language, source: bytes, files: Mapping[str, bytes]) -> bytes | Execution:
        key = program_key(lang.name, source, files)
        return self.cache.get_or_compile(key, lambda: self._compile(lang, source, files))

    def _compile(self, lang: Language, source: bytes, files: Mapping[str, bytes]) -> bytes | Execution:
        result = self._run(
            lang, lang.compile_argv(), {**files, lang.source: source}, {}, timeout_s=lang.compile_timeout_s,
            memory_mb=lang.compile_memory_mb, collect=[lang.binary], warm=False,
        )
        if result.ok and result.artifact:
            return result.artifact
        return compile_failure(result)

    def _run(
        self, lang: Language, argv: list[str], files: Mapping[str, bytes], modes: Mapping[str, int], *,
        timeout_s: float, memory_mb: int, warm: bool, stdin: bytes = b"",
        collect: list[str] | None = None, fetch: list[str] | None = None,
    ) -> Execution:
        cfg = self.config
        cpu_s = int(timeout_s) + 1
        limits: dict[str, Any] = {
            "wall_s": timeout_s, "cpu_s": cpu_s, "fsize_bytes": cfg.max_file_mb << 20,
            "nofile": cfg.max_open_files, "nproc": cfg.max_processes, "stack_bytes": cfg.stack_mb << 20,
            "output_bytes": cfg.output_limit_mb << 20, "collect_bytes": cfg.max_file_mb << 20,
            "as_bytes": (memory_mb << 20) if (self._tree is None and lang.address_space_limit) else 0,
        }
        names = list(files)
        header = {
            "argv": argv, "python": lang.source if warm else None, "limits": limits,
            "collect": (collect or []) + (fetch or []),
            "env": lang.environment({"PATH": PATH, "HOME": "/work", "TMPDIR": "/tmp", "LANG": "C.UTF-8",
                                     "LC_ALL": "C.UTF-8"}),
            "files": [{"name": n, "mode": modes.get(n, 0o644)} for n in names],
        }
        blobs = [stdin, *(files[n] for n in names)]
        last_error = ""
        for _attempt in range(2):
            with self._slot() as slot:
                restarted = not slot.alive()
                try:
                    if slot.group:
                        slot.group.prepare((memory_mb + _SLACK_MB) << 20, cfg.max_processes + 8)
                    result, outputs = slot.run(header, blobs)
                except (SandboxError, OSError) as exc:
                    last_error = str(exc)
                    log.warning("sandbox: jail %d failed: %s", slot.index, exc)
                    slot.kill()
                    continue
                finally:
                    if restarted:
                        self._counts["jail_restarts"] += 1
                oom = bool(slot.group and slot.group.oom_killed())
            self._counts["runs"] += 1
            if result["status"] == "setup_error":
                last_error = str(result.get("error", "setup failed"))
                continue
            run = _execution(result, outputs, oom=oom, cpu_limit=cpu_s, collect=bool(collect))
            if fetch:
                infos = result.get("collected") or []
                run.fetched.update(
                    (name, blob) for name, info, blob in zip(fetch, infos, outputs[2:], strict=False)
                    if not info.get("error")
                )
            return run
        return Execution(RunStatus.SANDBOX_ERROR, reason=f"the sandbox failed twice: {last_error}")


def _execution(result: dict[str, Any], outputs: list[bytes], *, oom: bool, cpu_limit: int, collect: bool) -> Execution:
    stdout, stderr = outputs[:2]
    artifact = b""
    if collect:
        info = (result.get("collected") or [{"error": "nothing read back"}])[0]
        artifact = outputs[2] if len(outputs) > 2 and not info.get("error") else b""
    sig, code, cpu = result.get("signal"), result.get("exit_code"), result.get("cpu_s")
    kind = result["status"]
    reason = ""
    if kind == "timeout":
        status, reason = RunStatus.TIMEOUT, "wall-clock limit exceeded"
    elif kind == "output_limit":
        status, reason = RunStatus.OUTPUT_LIMIT, "output limit exceeded"
    elif oom:
        status, reason = RunStatus.MEMORY_LIMIT, "memory limit exceeded"
    elif sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu is not None and cpu >= cpu_limit - 0.1):
        # (the kernel samples CPU time at ticks: a kill at the limit may report a little under it)
        status, reason = RunStatus.TIMEOUT, "CPU time limit exceeded"
    elif sig is not None:
        status, reason = RunStatus.RUNTIME_ERROR, f"killed by signal {signal.Signals(sig).name}"
    elif code:
        status, reason = RunStatus.RUNTIME_ERROR, f"exit status {code}"
        if any(marker in stderr[-4096:] for marker in OUT_OF_MEMORY):
            status, reason = RunStatus.MEMORY_LIMIT, "memory limit exceeded"
    else:
        status = RunStatus.OK
    maxrss = result.get("maxrss_kb")
    return Execution(
        status=status, exit_code=code, signal=sig, stdout=stdout, stderr=stderr, artifact=artifact,
        time_s=float(result.get("wall_s") or 0.0), cpu_s=cpu, memory_mb=round(maxrss / 1024, 1) if maxrss else None,
        reason=reason,
    )
