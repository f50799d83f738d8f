"""The languages the sandbox runs, read from ``languages.toml`` (data, not code)."""

from __future__ import annotations

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

    @property
    def compiled(self) -> bool:
        return bool(self.compile)

    def run_argv(self) -> list[str]:
        return [part.format(source=self.source, binary=self.binary) for part in self.run]


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
        )
        if out[name].compiled and not out[name].binary:
            raise ValueError(f"language {name}: a compiled language needs `binary`")
    return out


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
