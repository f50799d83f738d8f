"""A container backend for ``execute``: each program runs in a fresh container, through the Docker API.

The same call and the same ``Execution`` as ``Sandbox``, for hosts where the bubblewrap jail cannot
run (no user namespaces, no root) but a Docker-API engine can: Docker, or podman's
``podman system service`` (``deploy/podman-setup.sh``). It is slower, a few tenths of a second a
run against a few milliseconds, because every run creates, starts and removes a container.

One run is one container: no network, a read-only root file system, size-capped tmpfs on /work and
/tmp, the memory limit as both ``mem_limit`` and ``memswap_limit``, a pids limit, every capability
dropped, ``no-new-privileges``, a non-root user of its own (so that the per-user ``nproc`` limit is
per run), rlimits (nofile, nproc, cpu, stack, fsize, core), no log driver. The program and its files
go in on the container's stdin and its output comes back on the same attach stream
(``container_stream``), counted as it arrives: over the cap, or past the deadline, the container is
killed. It is removed whatever happens.

Statuses come from facts the program cannot forge into an infrastructure error: no "ready" line
means the engine or the wrapper failed (``sandbox_error``); the deadline and the output cap are
enforced here; an out-of-memory kill is the engine's ``OOMKilled`` or, where the engine does not
report it (podman on cgroup v1), the cgroup's own ``oom_kill`` counter read by the wrapper after the
program exits (exit status 250). A program can fake only its own failures. An exit status of
129–192 reads as death by signal (status − 128), as a shell reports it.

Compiled languages compile once per distinct program in a container of their own; the binary comes
back on stdout, is cached here (``CompileCache``) and is sent into every run of that program.
"""

from __future__ import annotations

import itertools
import logging
import math
import queue
import signal
import socket
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import docker
from docker.errors import DockerException, ImageNotFound

from .compile_cache import CompileCache, compile_failure, program_key
from .container_stream import OOM_EXIT, READY, feed, hang_up, raw_socket, read_frames, wrapper_script
from .errors import SandboxError
from .languages import Language, check_file_names, load_languages, resolve
from .pool import OUT_OF_MEMORY, Execution, RunStatus, SandboxConfig

log = logging.getLogger(__name__)

LABEL = "rlvr-sandbox"  # on every container this module makes; LABEL.owner names the ContainerSandbox
DEFAULT_IMAGE = "rlvr-sandbox-runtime:local"
ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/work", "TMPDIR": "/tmp", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
}
_EXITED = ("exited", "stopped", "dead")


@dataclass
class _Raw:
    """What one container run gave back, before it is judged."""

    stdout: bytes = b""
    stderr: bytes = b""
    exit_code: int | None = None
    oom_killed: bool = False
    timed_out: bool = False
    output_limit: bool = False
    time_s: float = 0.0
    error: str = ""


class ContainerSandbox:
    """Runs programs in fresh containers of ``image`` on the engine at ``base_url`` (default: ``DOCKER_HOST``)."""

    def __init__(
        self,
        image: str = DEFAULT_IMAGE,
        base_url: str | None = None,
        *,
        config: SandboxConfig | None = None,
        max_concurrency: int | None = None,
        cpus: float | None = 1.0,
        base_uid: int = 10000,
        start_grace_s: float = 0.25,
        api_timeout_s: float = 60.0,
    ) -> None:
        self.image = image
        self.base_url = base_url
        self.config = config or SandboxConfig()
        self.languages = load_languages(self.config.languages_file)
        self.cpus = cpus
        self.start_grace_s = start_grace_s  # the wrapper's unpacking, inside the deadline's count
        self.api_timeout_s = api_timeout_s
        self.owner = uuid.uuid4().hex[:12]
        self.cache = CompileCache(self.config.compile_cache_entries, self.config.compile_cache_mb << 20)
        self._slots: queue.Queue[int] = queue.Queue()
        for index in range(max_concurrency or self.config.slots):
            self._slots.put(base_uid + index)  # one uid per concurrent run: nproc counts per user
        self._api: Any = None
        self._lock = threading.Lock()
        self._names = itertools.count()
        self._runs = 0
        self._engine_errors = 0

    @property
    def stats(self) -> dict[str, int]:
        return {
            "runs": self._runs, "compiles": self.cache.compiles, "compile_cache_hits": self.cache.hits,
            "engine_errors": self._engine_errors,
        }

    # ----------------------------------------------------------------------------- engine
    def _client(self) -> Any:
        with self._lock:
            if self._api is None:
                # the API version is asked here rather than by docker's version="auto", whose client is
                # left unclosed when the engine does not answer; and a unix socket is tried here first,
                # since docker's unix transport leaks its socket when the connect fails
                where: dict[str, Any] = {"base_url": self.base_url} if self.base_url else docker.utils.kwargs_from_env()
                url = str(where.get("base_url") or "unix:///var/run/docker.sock")
                if url.startswith(("unix://", "http+unix://")):
                    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as unix:
                        unix.settimeout(self.api_timeout_s)
                        try:
                            unix.connect(url.split("unix://", 1)[1])
                        except OSError as exc:
                            raise OSError(f"cannot connect to {url}: {exc.strerror or exc}") from exc
                probe = docker.APIClient(
                    version=docker.constants.MINIMUM_DOCKER_API_VERSION, timeout=self.api_timeout_s, **where
                )
                try:
                    version = str(probe.version(api_version=False)["ApiVersion"])
                finally:
                    probe.close()
                self._api = docker.APIClient(version=version, timeout=self.api_timeout_s, **where)
            return self._api

    def check(self) -> None:
        """Raise ``SandboxError`` unless the engine answers and has the image."""
        where = self.base_url or "DOCKER_HOST"
        try:
            api = self._client()
            api.ping()
        except (DockerException, OSError) as exc:
            raise SandboxError(f"no container engine answers at {where}: {exc}") from exc
        try:
            api.inspect_image(self.image)
        except ImageNotFound as exc:
            raise SandboxError(f"the container engine at {where} has no image {self.image}") from exc
        except (DockerException, OSError) as exc:
            raise SandboxError(f"the container engine at {where} failed: {exc}") from exc

    def leftover_containers(self) -> list[str]:
        """Ids of this sandbox's containers the engine still has (none, unless a removal failed)."""
        found = self._client().containers(all=True, filters={"label": f"{LABEL}.owner={self.owner}"})
        return [str(c["Id"]) for c in found]

    def close(self) -> None:
        with self._lock:
            if self._api is not None:
                self._api.close()
                self._api = None

    def __enter__(self) -> ContainerSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def language(self, name: str) -> Language:
        return resolve(self.languages, name)

    # ---------------------------------------------------------------------------- execute
    def execute(
        self,
        language: str | Language,
        code: str | bytes,
        *,
        stdin: bytes = b"",
        files: Mapping[str, bytes] | None = None,
        timeout_s: float = 10.0,
        memory_mb: int = 512,
    ) -> Execution:
        """Compile (once per distinct source) and run ``code``; ``files`` are put beside it in /work."""
        lang = language if isinstance(language, Language) else self.language(language)
        source = code.encode() if isinstance(code, str) else code
        extra = dict(files or {})
        check_file_names([*extra, lang.source, *([lang.binary] if lang.compiled else [])])
        if not lang.compiled:
            return self._run(lang, lang.run_argv(memory_mb), {**extra, lang.source: source}, stdin, timeout_s,
                             memory_mb)
        key = program_key(lang.name, source, extra)
        binary = self.cache.get_or_compile(key, lambda: self._compile(lang, source, extra))
        if isinstance(binary, Execution):
            return binary
        return self._run(lang, lang.run_argv(memory_mb), {**extra, lang.binary: binary}, stdin, timeout_s, memory_mb,
                         executable=lang.binary)

    def _compile(self, lang: Language, source: bytes, files: Mapping[str, bytes]) -> bytes | Execution:
        result = self._run(
            lang, lang.compile_argv(), {**files, lang.source: source}, b"", lang.compile_timeout_s,
            lang.compile_memory_mb,
            collect=lang.binary,
        )
        if result.ok and result.stdout:  # the wrapper sends the binary back on stdout
            return result.stdout
        return compile_failure(replace(result, stdout=b""))

    def _run(
        self, lang: Language, argv: list[str], files: Mapping[str, bytes], stdin: bytes, timeout_s: float,
        memory_mb: int, *, executable: str = "", collect: str = "",
    ) -> Execution:
        cfg = self.config
        cpu_s = math.ceil(timeout_s) + 1
        cap = cfg.output_limit_mb << 20
        if collect:
            cap += cfg.max_file_mb << 20
        script = wrapper_script(files, executable=executable, collect=collect)
        payload = b"".join([*files.values(), stdin])
        uid = self._slots.get()
        try:
            raw = self._container(script, argv, lang.environment(ENV), payload, uid, timeout_s, memory_mb, cpu_s, cap)
        finally:
            self._slots.put(uid)
        with self._lock:
            self._runs += 1
            self._engine_errors += bool(raw.error)
        if raw.error:
            log.warning("container sandbox: %s", raw.error)
            return Execution(RunStatus.SANDBOX_ERROR, reason=f"container engine: {raw.error}", time_s=raw.time_s)
        return _execution(raw, cpu_s)

    def _container(
        self, script: str, argv: list[str], env: dict[str, str], payload: bytes, uid: int, timeout_s: float,
        memory_mb: int,
        cpu_s: int, cap: int,
    ) -> _Raw:
        cfg = self.config
        raw = _Raw()
        container: str | None = None
        attached: Any = None
        sock: socket.socket | None = None
        writer: threading.Thread | None = None
        try:
            api = self._client()
            tmpfs = f"rw,exec,nosuid,nodev,size={cfg.tmpfs_mb}m,mode=1777"
            host_config = api.create_host_config(
                network_mode="none",
                read_only=True,
                tmpfs={"/work": tmpfs, "/tmp": tmpfs},
                mem_limit=f"{memory_mb}m",
                memswap_limit=f"{memory_mb}m",
                pids_limit=cfg.max_processes + 8,  # + the wrapper's own
                nano_cpus=int(self.cpus * 1e9) if self.cpus else None,
                cap_drop=["ALL"],
                security_opt=["no-new-privileges"],
                ulimits=[
                    docker.types.Ulimit(name=name, soft=soft, hard=hard)
                    for name, soft, hard in (
                        ("nofile", cfg.max_open_files, cfg.max_open_files),
                        ("nproc", cfg.max_processes, cfg.max_processes),
                        ("cpu", cpu_s, cpu_s + 1),
                        ("stack", cfg.stack_mb << 20, cfg.stack_mb << 20),
                        ("fsize", cfg.max_file_mb << 20, cfg.max_file_mb << 20),
                        ("core", 0, 0),
                    )
                ],
                log_config=docker.types.LogConfig(type="none"),
            )
            container = str(api.create_container(
                self.image, ["/bin/sh", "-c", script, "sh", *argv], user=f"{uid}:{uid}", working_dir="/work",
                environment=env, stdin_open=True, network_disabled=True, host_config=host_config,
                labels={LABEL: "1", f"{LABEL}.owner": self.owner},
                name=f"rlvr-sandbox-{self.owner}-{next(self._names)}",
            )["Id"])
            # the wrapper writes nothing before it has read the files sent below, so no output can be
            # lost in the HTTP client's buffer ahead of this raw socket
            attached = api.attach_socket(container, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1})
            sock = raw_socket(attached)
            sock.settimeout(None)  # blocking: the writer may wait on a program that reads its stdin late
            api.start(container)
            started = time.monotonic()
            writer = threading.Thread(target=feed, args=(sock, payload), name="rlvr-container-stdin", daemon=True)
            writer.start()
            deadline = started + timeout_s + self.start_grace_s
            out = read_frames(sock, deadline, cap)
            raw.time_s = time.monotonic() - started
            raw.stdout, raw.stderr = out.stdout, out.stderr
            if out.timed_out or out.over_cap:
                # hang up first: an engine blocked writing to a reader that stopped is slow to kill
                attached, sock = hang_up(attached, sock)
                _kill(api, container)
            if not raw.stderr.startswith(READY):  # the program never ran: the engine or the unpacking failed
                raw.error = "the wrapper did not start: " + raw.stderr[-500:].decode("utf-8", "replace")
                return raw
            raw.stderr = raw.stderr[len(READY):]
            if out.timed_out or out.over_cap:
                raw.timed_out, raw.output_limit = out.timed_out, out.over_cap
                return raw
            state = _wait_exited(api, container, time.monotonic() + self.api_timeout_s)
            raw.exit_code = int(state.get("ExitCode", -1))
            raw.oom_killed = bool(state.get("OOMKilled")) or raw.exit_code == OOM_EXIT
        except (DockerException, OSError, SandboxError) as exc:
            raw.error = f"{type(exc).__name__}: {exc}"
        finally:
            hang_up(attached, sock)
            if writer is not None:
                writer.join(timeout=5)
            if container is not None:
                self._remove(container)
        return raw

    def _remove(self, container: str) -> None:
        try:
            self._client().remove_container(container, force=True, v=True)
        except (DockerException, OSError) as exc:
            log.warning("container sandbox: could not remove %s: %s", container[:12], exc)


def _kill(api: Any, container: str) -> None:
    try:
        api.kill(container)
    except (DockerException, OSError):
        pass  # exited meanwhile; the removal that follows is forced anyway


def _wait_exited(api: Any, container: str, deadline: float) -> dict[str, Any]:
    """The container's State once it has exited (polled: podman's /wait answers a few tenths late)."""
    delay = 0.005
    while True:
        state: dict[str, Any] = api.inspect_container(container)["State"]
        if str(state.get("Status", "")).lower() in _EXITED:
            return state
        if time.monotonic() > deadline:
            raise SandboxError(f"container {container[:12]} did not exit: {state.get('Status')}")
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


def _execution(raw: _Raw, cpu_limit: int) -> Execution:
    code = raw.exit_code
    sig: int | None = None
    if code == OOM_EXIT and raw.oom_killed:
        code = None  # the wrapper's report, not the program's status
    elif code is not None and 128 < code <= 128 + 64:
        sig, code = code - 128, None
    if raw.timed_out:
        status, reason = RunStatus.TIMEOUT, "wall-clock limit exceeded"
    elif raw.output_limit:
        status, reason = RunStatus.OUTPUT_LIMIT, "output limit exceeded"
    elif raw.oom_killed:
        status, reason = RunStatus.MEMORY_LIMIT, "memory limit exceeded"
    elif sig == signal.SIGXCPU or (sig == signal.SIGKILL and raw.time_s >= cpu_limit):
        status, reason = RunStatus.TIMEOUT, "CPU time limit exceeded"
    elif sig is not None:
        status, reason = RunStatus.RUNTIME_ERROR, f"killed by signal {_signal_name(sig)}"
    elif code:
        status, reason = RunStatus.RUNTIME_ERROR, f"exit status {code}"
        if any(marker in raw.stderr[-4096:] for marker in OUT_OF_MEMORY):
            status, reason = RunStatus.MEMORY_LIMIT, "memory limit exceeded"
    else:
        status, reason = RunStatus.OK, ""
    if raw.timed_out or raw.output_limit:
        code = sig = None
    return Execution(
        status, exit_code=code, signal=sig, stdout=raw.stdout, stderr=raw.stderr, time_s=raw.time_s, reason=reason
    )


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)
