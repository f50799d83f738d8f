"""``transformers serve`` on a local model folder, as a subprocess, for tests of the OpenAI-compatible backends.

``serve_transformers(model_dir)`` starts ``transformers serve <model_dir>`` on 127.0.0.1 (a free port unless
one is given), on the CPU and offline, waits until ``GET /v1/models`` answers, yields the base URL and stops
the server afterwards (SIGTERM, then SIGKILL after a grace period; the process is always reaped). The
server is pinned to the folder (``force_model``): a request may leave ``model`` out or must name the folder
exactly as ``model_name(model_dir)`` spells it, or the server answers 400.

Observed with transformers 5.24 (CPU): a non-streaming chat completion returns the OpenAI shape
(``choices[0].message.content``, ``finish_reason`` "stop" or "length", ``usage`` counting the prompt
with one BOS and the reply with its EOS); ``temperature: 0`` makes it greedy, and a ``temperature`` above
0 samples only if the model's generation config samples (``do_sample``); ``seed`` seeds torch per request;
``logprobs``, ``n`` and other unsupported OpenAI fields are ignored (a warning in the log), an unknown
field gets 422. Requests run one at a time on one inference thread.

The server's output goes to a temporary log file; on a failed start its tail is in the error.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

START_TIMEOUT_S = 120.0
STOP_GRACE_S = 10.0


def model_name(model_dir: Path) -> str:
    """The ``model`` field the pinned server accepts: the folder as it was given on the command line."""
    return str(Path(model_dir).resolve())


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _command(model_dir: Path, port: int) -> list[str]:
    cli = Path(sys.executable).with_name("transformers")
    return [
        str(cli),
        "serve",
        model_name(model_dir),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--device",
        "cpu",
        "--dtype",
        "float32",
        "--log-level",
        "warning",
        "--format",
        "quiet",
    ]


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        HF_HUB_DISABLE_TELEMETRY="1",
        TRANSFORMERS_NO_ADVISORY_WARNINGS="1",
        CUDA_VISIBLE_DEVICES="",
        TOKENIZERS_PARALLELISM="false",
    )
    return env


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            process.kill()
    process.wait()


def _tail(path: Path, chars: int = 3000) -> str:
    return path.read_text(errors="replace")[-chars:]


@contextmanager
def serve_transformers(
    model_dir: Path, *, port: int | None = None, timeout_s: float = START_TIMEOUT_S
) -> Iterator[str]:
    """Run ``transformers serve`` on ``model_dir``; yields ``http://127.0.0.1:PORT`` once it answers."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="transformers-serve-") as scratch:
        log_path = Path(scratch) / "server.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                _command(model_dir, port), stdout=log, stderr=subprocess.STDOUT, env=_environment(), cwd=scratch
            )
            try:
                _wait_until_up(process, url, timeout_s, log_path)
                yield url
            finally:
                _stop(process)


def _wait_until_up(process: subprocess.Popen[bytes], url: str, timeout_s: float, log_path: Path) -> None:
    deadline = time.monotonic() + timeout_s
    with httpx.Client(timeout=2.0) as client:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"transformers serve exited with {process.returncode}:\n{_tail(log_path)}")
            try:
                if client.get(f"{url}/v1/models").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"transformers serve did not answer within {timeout_s:.0f} s:\n{_tail(log_path)}")
            time.sleep(0.25)
