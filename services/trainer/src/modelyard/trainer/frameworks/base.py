"""The seam between the trainer worker and a training framework.

The worker knows nothing about any framework: it asks `get(name)` for a `Framework`, writes nothing itself, runs
`framework.command(job)` as a subprocess and reads the JSON event stream of `protocol` from its stdout. A framework
is added by listing it in `_BUILTIN`, by `register()` at import time, or by a package that declares an entry point in
the `modelyard.trainer.frameworks` group (`name = "package.module:FactoryOrClass"`).

Importing this module (or any `Framework.command`) must stay cheap: no torch, no framework imports in the worker.
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

ENTRY_POINT_GROUP = "modelyard.trainer.frameworks"
SPEC_FILENAME = "trainjob.json"

# name -> "module:attribute"; the attribute is a Framework class or a zero-argument factory.
_BUILTIN: dict[str, str] = {
    "ultralytics": "modelyard.trainer.frameworks.ultralytics:UltralyticsFramework",
}
_REGISTERED: dict[str, Framework] = {}


@dataclass(frozen=True)
class TrainJobSpec:
    """One attempt of one training job, as the child process sees it. Written to a JSON file the child reads.

    `config` holds the framework's training arguments exactly as the scheduler resolved them (for Ultralytics:
    `model`, `epochs`, `imgsz`, `batch`, `lr0`, ...). `resume_from` is a checkpoint of an earlier attempt of the same
    job (after a crash) to continue from, else None.
    """

    job_id: str
    attempt: int
    task: str
    dataset_yaml: str
    workdir: str
    config: dict[str, Any] = field(default_factory=dict)
    resume_from: str | None = None
    device: str = "cpu"

    def __post_init__(self) -> None:
        for name in ("job_id", "task", "dataset_yaml", "workdir", "device"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise ValueError(f"TrainJobSpec.{name} must be a non-empty string, got {value!r}")
        if isinstance(self.attempt, bool) or not isinstance(self.attempt, int) or self.attempt < 1:
            raise ValueError(f"TrainJobSpec.attempt must be an integer >= 1, got {self.attempt!r}")
        if not isinstance(self.config, dict) or not all(isinstance(k, str) for k in self.config):
            raise ValueError("TrainJobSpec.config must be a JSON object with string keys")
        if self.resume_from is not None and (not isinstance(self.resume_from, str) or not self.resume_from):
            raise ValueError(f"TrainJobSpec.resume_from must be a path or None, got {self.resume_from!r}")

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True, allow_nan=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> TrainJobSpec:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("a train job spec must be a JSON object")
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainJobSpec:
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown train job spec fields: {', '.join(unknown)}")
        missing = sorted(f for f in ("job_id", "attempt", "task", "dataset_yaml", "workdir") if f not in data)
        if missing:
            raise ValueError(f"train job spec is missing: {', '.join(missing)}")
        return cls(**data)

    def to_file(self, path: str | os.PathLike[str]) -> Path:
        """Write the spec atomically (a reader never sees half a file); returns the path."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        tmp.write_text(self.to_json() + "\n", encoding="utf-8")
        tmp.replace(target)
        return target

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> TrainJobSpec:
        return cls.from_json(Path(path).read_bytes())


@runtime_checkable
class Framework(Protocol):
    """A training framework plugin. `command` returns the argv of the child process that trains `job`; the child
    speaks `modelyard.trainer.frameworks.protocol` on stdout and exits with one of its exit codes."""

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
