"""The container backend against a real engine: right answers in four languages, hostile programs, cleanup.

Needs a Docker-API engine at $RLVR_DOCKER_HOST (default: podman's unix:///run/podman/podman.sock) with
the runtime image $RLVR_SANDBOX_IMAGE (default rlvr-sandbox-runtime:local); `deploy/podman-setup.sh`
makes both on a Debian machine. Skipped, with the reason, where either is missing.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from rlvr_sandbox.errors import SandboxError
from rlvr_sandbox.pool import RunStatus, SandboxConfig

docker = pytest.importorskip("docker", reason="the docker SDK is not installed (pip install 'rlvr-sandbox[docker]')")
from rlvr_sandbox.container import ContainerSandbox  # noqa: E402 - it imports the docker SDK, checked just above

pytestmark = pytest.mark.timeout(120)
slow = pytest.mark.slow  # the tests that start containers

ENGINE = os.environ.get("RLVR_DOCKER_HOST", "unix:///run/podman/podman.sock")
IMAGE = os.environ.get("RLVR_SANDBOX_IMAGE", "rlvr-sandbox-runtime:local")

SUM = {
    "python": "a, b = map(int, input().split())\nprint(a + b)\n",
    "cpp": "#include <iostream>\nint main() { long a, b; std::cin >> a >> b; std::cout << a + b << '\\n'; }\n",
    "c": '#include <stdio.h>\nint main(void) { long a, b; scanf("%ld %ld", &a, &b); printf("%ld\\n", a + b); }\n',
    "javascript": "const [a, b] = require('fs').readFileSync(0, 'utf8').trim().split(/\\s+/).map(Number);\n"
    "console.log(a + b);\n",
}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[ContainerSandbox]:
    config = SandboxConfig(slots=2, output_limit_mb=1, tmpfs_mb=64)
    box = ContainerSandbox(IMAGE, ENGINE, config=config)
    try:
        box.check()
    except SandboxError as exc:
        box.close()
        pytest.skip(f"{exc} (deploy/podman-setup.sh makes both; RLVR_DOCKER_HOST, RLVR_SANDBOX_IMAGE choose others)")
    yield box
    box.close()


@slow
@pytest.mark.parametrize("language", sorted(SUM))
def test_each_language_gives_the_right_answer(sandbox: ContainerSandbox, language: str) -> None:
    run = sandbox.execute(language, SUM[language], stdin=b"2 40\n")
    assert run.status is RunStatus.OK, run
    assert run.stdout == b"42\n"
    assert run.exit_code == 0


@slow
def test_a_program_compiles_once(sandbox: ContainerSandbox) -> None:
    code = SUM["c"] + "/* compiled once */\n"
    compiles = sandbox.stats["compiles"]
    outputs = [sandbox.execute("c", code, stdin=f"{n} 1\n".encode()).stdout for n in range(3)]
    assert outputs == [b"1\n", b"2\n", b"3\n"]
    assert sandbox.stats["compiles"] == compiles + 1


@slow
def test_a_large_stdin_read_late_arrives_whole(sandbox: ContainerSandbox) -> None:
    code = "import sys, time\ntime.sleep(1.5)\nprint(len(sys.stdin.buffer.read()))\n"
    run = sandbox.execute("python", code, stdin=b"x" * (4 << 20), timeout_s=10)
    assert (run.status, run.stdout) == (RunStatus.OK, b"4194304\n"), run


@slow
def test_the_jail_is_unprivileged_and_read_only(sandbox: ContainerSandbox) -> None:
    probe = """
import os
caps = [l.split()[1] for l in open("/proc/self/status") if l.startswith(("CapEff", "CapBnd"))]
try:
    open("/usr/owned", "w")
    root = "writable"
except OSError:
    root = "read-only"
open("/work/scratch", "w").write("x")
print(os.getuid() != 0, caps, root, open("secret.txt").read())
"""
    run = sandbox.execute("python", probe, files={"secret.txt": b"beside"})
    assert run.status is RunStatus.OK, run
    assert run.stdout.decode().split() == ["True", "['0000000000000000',", "'0000000000000000']", "read-only", "beside"]


@slow
@pytest.mark.parametrize(
    ("language", "code"),
    [
        ("python", "while True:\n    pass\n"),  # CPU
        ("python", "import time\ntime.sleep(60)\n"),  # wall clock
    ],
)
def test_a_program_past_its_time_is_a_timeout(sandbox: ContainerSandbox, language: str, code: str) -> None:
    started = time.monotonic()
    run = sandbox.execute(language, code, timeout_s=1.0)
    assert run.status is RunStatus.TIMEOUT, run
    assert time.monotonic() - started < 6


@slow
@pytest.mark.parametrize(
    ("language", "code"),
    [
        ("python", "chunks = []\nwhile True:\n    chunks.append(bytearray(1 << 20))\n"),
        ("cpp", "#include <vector>\n#include <cstring>\nint main() { std::vector<char*> v;"
         " for (;;) { char* p = new char[1 << 20]; std::memset(p, 1, 1 << 20); v.push_back(p); } }\n"),
        ("javascript", "const keep = [];\nfor (;;) keep.push(new Array(1e6).fill(1));\n"),
    ],
)
def test_a_memory_bomb_is_a_memory_limit(sandbox: ContainerSandbox, language: str, code: str) -> None:
    run = sandbox.execute(language, code, memory_mb=64, timeout_s=10)
    assert run.status is RunStatus.MEMORY_LIMIT, run


@slow
def test_there_is_no_network(sandbox: ContainerSandbox) -> None:
    # a UDP connect() only looks up a route, so it sends nothing, even if the test were to fail
    probe = """
import socket
print(sorted(name for _, name in socket.if_nameindex()))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try:
    s.connect(("192.0.2.1", 9))
    print("routed")
except OSError as exc:
    print("unreachable", exc.errno)
"""
    run = sandbox.execute("python", probe)
    assert run.status is RunStatus.OK, run
    assert run.stdout.decode().split() == ["['lo']", "unreachable", "101"]  # ENETUNREACH


@slow
def test_an_output_flood_is_an_output_limit(sandbox: ContainerSandbox) -> None:
    run = sandbox.execute("python", "import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n", timeout_s=10)
    assert run.status is RunStatus.OUTPUT_LIMIT, run
    assert len(run.stdout) <= (1 << 20) + (1 << 16)


@slow
def test_a_compile_error_is_reported_with_the_compiler_message(sandbox: ContainerSandbox) -> None:
    run = sandbox.execute("cpp", "int main() { return undeclared; }\n")
    assert run.status is RunStatus.COMPILE_ERROR, run
    assert "undeclared" in run.reason


@slow
def test_a_failing_program_cannot_pass_for_a_sandbox_error(sandbox: ContainerSandbox) -> None:
    for code in (1, 125, 126, 127, 255):
        run = sandbox.execute("python", f"import sys\nsys.stderr.write('\\x1erlvr-ready\\n')\nsys.exit({code})\n")
        assert run.status is RunStatus.RUNTIME_ERROR, run
        assert run.exit_code == code


@slow
def test_a_fork_bomb_and_a_stray_child_end_with_the_run(sandbox: ContainerSandbox) -> None:
    bomb = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    run = sandbox.execute("python", bomb, timeout_s=2.0)
    assert run.status in (RunStatus.TIMEOUT, RunStatus.RUNTIME_ERROR), run
    # a child that keeps stdout open dies with the container's pid 1: the run ends when the program does
    started = time.monotonic()
    run = sandbox.execute("python", "import subprocess\nsubprocess.Popen(['sleep', '60'])\nprint('done')\n")
    assert (run.status, run.stdout) == (RunStatus.OK, b"done\n"), run
    assert time.monotonic() - started < 10


@slow
def test_no_container_is_left_behind(sandbox: ContainerSandbox) -> None:
    assert sandbox.stats["runs"] > 10
    assert sandbox.leftover_containers() == []


def test_an_engine_that_does_not_answer_is_a_sandbox_error_never_a_verdict() -> None:
    box = ContainerSandbox(IMAGE, "unix:///nonexistent/rlvr-test.sock")
    run = box.execute("python", "print(1)")
    assert run.status is RunStatus.SANDBOX_ERROR
    assert "container engine" in run.reason
    box.close()


def test_file_names_are_plain_names_in_work() -> None:
    box = ContainerSandbox(IMAGE, "unix:///nonexistent/rlvr-test.sock")
    for name in ("../etc/passwd", "/abs", "a/b", "..", "", "x" * 200, "a b"):
        with pytest.raises(ValueError, match="bad file name"):
            box.execute("python", "print(1)", files={name: b""})
