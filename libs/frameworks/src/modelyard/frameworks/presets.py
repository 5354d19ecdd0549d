"""The registry of presets, keyed by (framework, task).

A framework plugs in by registering one TaskPreset per task: its field table, the package and name of its YAML
preset and a function that renders the equivalent command line. The scheduler's resolver only ever talks to this
registry. A framework package declares a `modelyard.presets` entry point (a zero-argument function that calls
`register`); the scheduler calls `load_plugins()` at start, so a new framework never touches the scheduler.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from importlib.metadata import entry_points
from typing import Any

import yaml

from modelyard.frameworks.fields import FieldSpec, InvalidValue

CommandRenderer = Callable[[str, Mapping[str, Any]], str]
"""(task, resolved values) -> command line preview."""

ENTRY_POINT_GROUP = "modelyard.presets"


class PresetError(RuntimeError):
    """A packaged preset does not match its field table: a bug in this package, never a user error."""


@dataclass(frozen=True)
class TaskPreset:
    framework: str
    task: str
    fields: tuple[FieldSpec, ...]
    preset_file: str  # a YAML mapping, one key per field, in preset_package
    render_command: CommandRenderer
    preset_package: str

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


def load_plugins() -> list[str]:
    """Call every installed `modelyard.presets` entry point once; returns their names. A plugin that fails to load
    is reported by name and skipped (one broken framework must not take the others down)."""
    loaded = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        with _lock:
            if ep.name in _plugins:
                continue
            _plugins.add(ep.name)
        try:
            ep.load()()
        except Exception as error:  # noqa: BLE001 - reported, then the rest load
            _broken[ep.name] = f"{type(error).__name__}: {error}"
            continue
        loaded.append(ep.name)
    return loaded


def broken_plugins() -> dict[str, str]:
    return dict(_broken)


_plugins: set[str] = set()
_broken: dict[str, str] = {}
