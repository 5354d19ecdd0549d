"""The registry of presets, keyed by (framework, task).

A framework plugs in by registering one TaskPreset per task: its field table, the name of its packaged YAML preset
and a function that renders the equivalent command line. The resolver only ever talks to this registry, so a new
framework (say "torch" for regress/forecast/audio_classify) is a new module that calls `register`, plus YAML files
under presets/data/, plus one import line in presets/__init__.py.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

from modelyard.scheduler.presets.fields import FieldSpec, InvalidValue

CommandRenderer = Callable[[str, Mapping[str, Any]], str]
"""(task, resolved values) -> command line preview."""

DATA_PACKAGE = "modelyard.scheduler.presets.data"


class PresetError(RuntimeError):
    """A packaged preset does not match its field table: a bug in this package, never a user error."""


@dataclass(frozen=True)
class TaskPreset:
    framework: str
    task: str
    fields: tuple[FieldSpec, ...]
    preset_file: str  # a YAML mapping, one key per field, in DATA_PACKAGE (or preset_package)
    render_command: CommandRenderer
    preset_package: str = DATA_PACKAGE

    def field(self, name: str) -> FieldSpec | None:
        return next((spec for spec in self.fields if spec.name == name), None)


_presets: dict[str, dict[str, TaskPreset]] = {}
_values: dict[tuple[str, str], dict[str, Any]] = {}
_lock = threading.Lock()


def register(preset: TaskPreset) -> None:
    """Add a preset; (framework, task) must be new and its field names unique."""
    names = [spec.name for spec in preset.fields]
    if len(names) != len(set(names)):
        raise ValueError(f"{preset.framework}/{preset.task}: duplicate field names")
    with _lock:
        tasks = _presets.setdefault(preset.framework, {})
        if preset.task in tasks:
            raise ValueError(f"{preset.framework}/{preset.task} is already registered")
        tasks[preset.task] = preset


def frameworks() -> dict[str, list[str]]:
    """framework -> its tasks, in registration order."""
    return {framework: list(tasks) for framework, tasks in _presets.items()}


def lookup(framework: str, task: str) -> TaskPreset | None:
    return _presets.get(framework, {}).get(task)


def preset_values(preset: TaskPreset) -> dict[str, Any]:
    """The preset's values, checked against its field table and in field-table order (a fresh copy each call)."""
    key = (preset.framework, preset.task)
    cached = _values.get(key)
    if cached is None:
        cached = _load(preset)
        with _lock:
            _values[key] = cached
    return dict(cached)


def _load(preset: TaskPreset) -> dict[str, Any]:
    where = f"{preset.preset_package}/{preset.preset_file}"
    try:
        text = resources.files(preset.preset_package).joinpath(preset.preset_file).read_text(encoding="utf-8")
    except (FileNotFoundError, ModuleNotFoundError) as error:
        raise PresetError(f"preset {where} is missing") from error
    raw = yaml.safe_load(text)
    if not isinstance(raw, dict):
        raise PresetError(f"preset {where} is not a YAML mapping")
    names = [spec.name for spec in preset.fields]
    missing = [name for name in names if name not in raw]
    extra = [str(key) for key in raw if key not in names]
    if missing or extra:
        raise PresetError(f"preset {where} does not match its field table: missing {missing}, unknown {extra}")
    values: dict[str, Any] = {}
    for spec in preset.fields:
        try:
            values[spec.name] = spec.check(raw[spec.name])
        except InvalidValue as error:
            raise PresetError(f"preset {where}: {spec.name} {error.message}") from error
    return values
