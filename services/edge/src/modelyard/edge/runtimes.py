"""Task runtimes: how the agent loads, checks and runs a model of one task. The built-in task is `detect`
(Ultralytics YOLO, `models.LoadedModel`). A framework plugin adds a task with an entry point in the
`modelyard.edge.runtimes` group, `<task> = "package.module:load"`, where

    load(path: Path, *, ai_module: str, version: str, counter: int) -> Predictor

builds the model from its ONNX file (blocking; the agent calls it in a thread, off the request path) and raises if
it cannot serve. The agent never imports a plugin's training code: only its edge module.

`Predictor.predict(body, params)` turns the request body (an image, a WAV, a JSON window...) and the query
parameters into the JSON answer's task part; the API adds `ai_module`, `model_version` and `counter`. It raises
`BadInput` (422, naming the field) for input the model cannot take."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from modelyard.edge.models import ModelInfo, Servable, load_model

ENTRY_POINT_GROUP = "modelyard.edge.runtimes"


class BadInput(ValueError):
    """The request cannot be answered by this model: 422 naming `field` (`body` or a query parameter)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@runtime_checkable
class Predictor(Protocol):
    info: ModelInfo

    def health_check(self) -> None: ...

    def predict(self, body: bytes, params: Mapping[str, str]) -> dict[str, Any]: ...


Loader = Callable[..., Predictor]


def unit_interval(params: Mapping[str, str], name: str, default: float) -> float:
    raw = params.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise BadInput(name, f"{name} must be a number in 0..1, got {raw!r}") from None
    if not 0.0 <= value <= 1.0:
        raise BadInput(name, f"{name} must be in 0..1, got {value}")
    return value


def _detect(path: Path, *, ai_module: str, version: str, counter: int) -> Servable:
    """Ultralytics YOLO detection, served by the API's own detect path (image in, boxes in its pixels out)."""
    return load_model(path, ai_module=ai_module, version=version, counter=counter)


BUILTIN: dict[str, Callable[..., Servable]] = {"detect": _detect}


def tasks() -> list[str]:
    return sorted(set(BUILTIN) | {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})


def load(task: str, path: Path, *, ai_module: str, version: str, counter: int) -> Servable:
    """The model at `path` ready to serve, for a release of `task` (release.json says which)."""
    loader = BUILTIN.get(task)
    if loader is None:
        found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == task]
        if not found:
            raise LookupError(f"this agent cannot serve task {task!r}; it serves {', '.join(tasks())}")
        plugin: Loader = found[0].load()
        return plugin(path, ai_module=ai_module, version=version, counter=counter)
    return loader(path, ai_module=ai_module, version=version, counter=counter)
