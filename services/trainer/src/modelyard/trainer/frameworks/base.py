"""The seam between the trainer worker and a training framework.

The worker knows nothing about any framework: it asks `get(name)` for a `Framework`, writes nothing itself, runs
`framework.command(job)` as a subprocess and reads the JSON event stream of `protocol` from its stdout. A framework
is added by listing it in `_BUILTIN`, by `register()` at import time, or by a package that declares an entry point in
the `modelyard.trainer.frameworks` group (`name = "package.module:FactoryOrClass"`).

Importing this module (or any `Framework.command`) must stay cheap: no torch, no framework imports in the worker.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Protocol, runtime_checkable

from modelyard.frameworks.jobspec import TrainJobSpec

ENTRY_POINT_GROUP = "modelyard.trainer.frameworks"

# name -> "module:attribute"; the attribute is a Framework class or a zero-argument factory.
_BUILTIN: dict[str, str] = {
    "ultralytics": "modelyard.trainer.frameworks.ultralytics:UltralyticsFramework",
}
_REGISTERED: dict[str, Framework] = {}


@runtime_checkable
class Framework(Protocol):
    """A training framework plugin. `command` returns the argv of the child process that trains `job`; the child
    speaks `modelyard.frameworks.protocol` on stdout and exits with one of its exit codes."""

    name: str
    tasks: frozenset[str]

    def command(self, job: TrainJobSpec) -> list[str]: ...


def register(framework: Framework, *, replace: bool = False) -> None:
    """Make `framework` available under `framework.name`."""
    if not replace and framework.name in _REGISTERED:
        raise ValueError(f"training framework {framework.name!r} is already registered")
    _REGISTERED[framework.name] = framework


def available() -> list[str]:
    """Names `get` can resolve (built in, registered, or declared by installed packages)."""
    names = set(_BUILTIN) | set(_REGISTERED)
    names.update(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))
    return sorted(names)


def get(name: str) -> Framework:
    """The framework called `name`. Unknown names raise KeyError naming the ones that exist."""
    if name in _REGISTERED:
        return _REGISTERED[name]
    target = _BUILTIN.get(name)
    if target is None:
        found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
        target = found[0].value if found else None
    if target is None:
        raise KeyError(f"unknown training framework {name!r}; available: {', '.join(available()) or 'none'}")
    framework = _load(name, target)
    _REGISTERED[name] = framework
    return framework


def _load(name: str, target: str) -> Framework:
    module_name, _, attribute = target.partition(":")
    factory: Callable[[], object] = getattr(importlib.import_module(module_name), attribute)
    framework = factory()
    if not isinstance(framework, Framework) or framework.name != name:
        raise TypeError(f"{target} does not provide a Framework named {name!r}")
    return framework
