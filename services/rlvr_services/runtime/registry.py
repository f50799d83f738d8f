"""The verifier registry: name → class. Duplicates raise; a miss lists the known names."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from rlvr_client.errors import InvalidRequest, UnknownVerifier

from .verifier import Verifier

V = TypeVar("V", bound=type[Verifier])

def _builtin_modules() -> tuple[str, ...]:
    """Every module of ``rlvr_services.verifiers``: a verifier module registers itself on import."""
    from .. import verifiers

    return tuple(sorted(f"{verifiers.__name__}.{m.name}" for m in pkgutil.iter_modules(verifiers.__path__)))


BUILTIN_MODULES = _builtin_modules()


class Registry:
    def __init__(self) -> None:
        self._classes: dict[str, type[Verifier]] = {}
        self._instances: dict[str, Verifier] = {}

    def register(self, cls: V) -> V:
        name = cls.name
        if name in self._classes and self._classes[name] is not cls:
            raise ValueError(f"verifier {name!r} is already registered by {self._classes[name].__module__}")
        self._classes[name] = cls
        return cls

    def names(self) -> list[str]:
        return sorted(self._classes)

    def get_class(self, name: str) -> type[Verifier]:
        try:
            return self._classes[name]
        except KeyError:
            known = self.names()
            raise UnknownVerifier(
                f"unknown verifier {name!r}; known verifiers: {', '.join(known)}",
                details={"name": name, "known": known},
            ) from None

    def instance(self, name: str) -> Verifier:
        """The process-wide instance of a verifier (built on first use)."""
        if name not in self._instances:
            self._instances[name] = self.get_class(name)()
        return self._instances[name]

    def classes(self) -> list[type[Verifier]]:
        return [self._classes[n] for n in self.names()]


REGISTRY = Registry()


def register(cls: V) -> V:
    """Class decorator: add a verifier to the process-wide registry."""
    return REGISTRY.register(cls)


def load_plugins(modules: Iterable[str] = ()) -> Registry:
    """Import the built-in verifiers and any plug-in modules (each registers on import)."""
    for mod in (*BUILTIN_MODULES, *modules):
        importlib.import_module(mod)
    return REGISTRY


def validate_params(cls: type[Verifier], params: dict[str, Any], where: str) -> BaseModel:
    """Validate params with the verifier's model; a failure is a 422 naming the field."""
    try:
        return cls.params_model.model_validate(params)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"])
            problems.append(f"{where}.params{'.' + loc if loc else ''}: {err['msg']}")
        raise InvalidRequest("; ".join(problems), details={"field": where, "verifier": cls.name}) from None
