"""The languages the sandbox runs, read from ``languages.toml`` (data, not code)."""

from __future__ import annotations

import glob
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path


@dataclass(frozen=True)
class Language:
    name: str
    aliases: tuple[str, ...]
    source: str
    run: tuple[str, ...]
    compile: tuple[str, ...] = ()
    binary: str = ""
    warm: str = ""
    address_space_limit: bool = True
    compile_timeout_s: float = 30.0
    compile_memory_mb: int = 1024
    env: tuple[tuple[str, str], ...] = ()
    packages: tuple[str, ...] = ()
    programs: tuple[str, ...] = ()
    host_paths: tuple[str, ...] = ()  # host paths (globs) its programs read, mounted read-only in every jail

    @property
    def compiled(self) -> bool:
        return bool(self.compile)

    def _substitute(self, argv: tuple[str, ...], memory_mb: int) -> list[str]:
        # plain replacement, not str.format: an inline script may hold braces of its own
        values = {"{source}": self.source, "{binary}": self.binary, "{memory_mb}": str(memory_mb)}
        out = []
        for part in argv:
            for key, value in values.items():
                part = part.replace(key, value)
            out.append(part)
        return out

    def run_argv(self, memory_mb: int = 512) -> list[str]:
        """The run's argv: ``{source}``, ``{binary}`` and ``{memory_mb}`` (the run's memory limit) substituted."""
        return self._substitute(self.run, memory_mb)

    def compile_argv(self) -> list[str]:
        """The compile step's argv, substituted as the run's (``{memory_mb}`` is the compile step's limit)."""
        return self._substitute(self.compile, self.compile_memory_mb)

    def environment(self, base: dict[str, str]) -> dict[str, str]:
        """``base`` with this language's own variables added (they cannot replace the base's)."""
        return {**dict(self.env), **base}

    def required_programs(self) -> tuple[str, ...]:
        """The executables it needs on the host: ``programs``, else the first word of compile and run."""
        if self.programs:
            return self.programs
        return tuple(dict.fromkeys(argv[0] for argv in (self.compile, self.run) if argv and argv[0].startswith("/")))


def load_languages(path: Path | None = None) -> dict[str, Language]:
    """name → Language, from the bundled table or ``path``."""
    raw = path.read_bytes() if path else resources.files("rlvr_sandbox").joinpath("languages.toml").read_bytes()
    table = tomllib.loads(raw.decode())
    out: dict[str, Language] = {}
    for name, spec in table.items():
        out[name] = Language(
            name=name,
            aliases=tuple(spec.get("aliases", [name])),
            source=spec["source"],
            run=tuple(spec["run"]),
            compile=tuple(spec.get("compile", ())),
            binary=spec.get("binary", ""),
            warm=spec.get("warm", ""),
            address_space_limit=bool(spec.get("address_space_limit", True)),
            compile_timeout_s=float(spec.get("compile_timeout_s", 30.0)),
            compile_memory_mb=int(spec.get("compile_memory_mb", 1024)),
            env=tuple((str(k), str(v)) for k, v in spec.get("env", {}).items()),
            packages=tuple(spec.get("packages", ())),
            programs=tuple(spec.get("programs", ())),
            host_paths=tuple(spec.get("host_paths", ())),
        )
        if out[name].compiled and not out[name].binary:
            raise ValueError(f"language {name}: a compiled language needs `binary`")
    return out


def host_paths(languages: Iterable[Language]) -> tuple[str, ...]:
    """The existing host paths the languages ask to see in the jail (their globs expanded), in order, once each."""
    found: dict[str, None] = {}
    for lang in languages:
        for pattern in lang.host_paths:
            if not pattern.startswith("/etc/"):
                raise ValueError(f"language {lang.name}: host_paths are read-only paths under /etc, not {pattern!r}")
            found.update(dict.fromkeys(sorted(glob.glob(pattern))))
    return tuple(found)


def resolve(languages: dict[str, Language], name: str) -> Language:
    """The language called ``name`` or one of its aliases (case-insensitive); KeyError lists the known ones."""
    key = name.strip().lower()
    for lang in languages.values():
        if key == lang.name or key in lang.aliases:
            return lang
    raise KeyError(f"unknown language {name!r}; known: {', '.join(sorted(languages))}")


_FILE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]{0,127}")


def check_file_names(names: Iterable[str]) -> None:
    """Files a run gets are plain names in its work directory: no paths, no dot-files, no '..'."""
    for name in names:
        if not _FILE_NAME.fullmatch(name):
            raise ValueError(f"bad file name {name!r}: a plain name in /work is expected")
