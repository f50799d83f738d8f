"""Compiled binaries kept host-side, keyed by the language, the source and the files beside it.

One compile per distinct program however many tests run it, and however many threads ask at once:
the first caller of a key compiles while the others wait on that key's lock, then read the cache.
A failed compile is not cached (the caller reports it), so a flaky engine cannot pin a program to
``compile_error``.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from .pool import Execution

Failure = TypeVar("Failure")


def program_key(language: str, source: bytes, files: Mapping[str, bytes]) -> str:
    """A digest of everything a compile step reads; length-prefixed, so no two inputs share one."""
    digest = hashlib.sha256()
    for part in (language.encode(), source, *(k.encode() + b"\0" + v for k, v in sorted(files.items()))):
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


class CompileCache:
    """An LRU map key → binary, bounded in entries and in bytes. Thread-safe."""

    def __init__(self, max_entries: int = 1024, max_bytes: int = 256 << 20) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, bytes] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}
        self.hits = 0
        self.compiles = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get_or_compile(self, key: str, compile_: Callable[[], bytes | Failure]) -> bytes | Failure:
        """The cached binary of ``key``, or ``compile_()``'s: its bytes are cached, anything else is passed back."""
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                if key in self._entries:
                    self._entries.move_to_end(key)
                    self.hits += 1
                    return self._entries[key]
                self.compiles += 1
            result = compile_()
            with self._lock:
                if isinstance(result, bytes):
                    self._put(key, result)
                self._key_locks.pop(key, None)
            return result

    def _put(self, key: str, binary: bytes) -> None:
        self._entries[key] = binary
        self._bytes += len(binary)
        while self._entries and (len(self._entries) > self.max_entries or self._bytes > self.max_bytes):
            _, old = self._entries.popitem(last=False)
            self._bytes -= len(old)


def compile_failure(result: Execution) -> Execution:
    """A failed compile step as the run's result: ``compile_error`` with the compiler's last words.

    A ``sandbox_error`` stays one: the jail failed, not the program.
    """
    from .pool import RunStatus

    if result.status is RunStatus.SANDBOX_ERROR:
        return result
    text = (result.stderr or result.stdout).decode("utf-8", "replace")
    reason = {"timeout": "compilation timed out", "memory_limit": "compilation ran out of memory"}.get(
        result.status.value, "compilation failed"
    )
    return replace(
        result, status=RunStatus.COMPILE_ERROR, stdout=b"", artifact=b"", reason=f"{reason}: {text[-2000:]}"
    )
