"""Training config presets and their resolver.

    resolve("ultralytics", "detect", Mode.USER, {"epochs": 3})
    -> ResolvedConfig, or ConfigInvalid listing every problem

A preset is a packaged YAML file (presets/data/<framework>_<task>.yaml) plus a field table saying, per option, its
type, range or choices and whether user mode may set it; see fields.py for how JSON values are coerced. Frameworks
register their presets in the registry (modelyard.frameworks.presets); importing this package registers the
built-in ones (Ultralytics) and those of every installed framework plugin (`modelyard.presets` entry points).
"""

from __future__ import annotations

from modelyard.frameworks.fields import FieldKind, FieldSpec
from modelyard.frameworks.model import ConfigInvalid, FieldProblem, Mode, ProblemCode, ResolvedConfig
from modelyard.frameworks.presets import PresetError, TaskPreset, load_plugins, register
from modelyard.scheduler.presets import yolo as _yolo  # noqa: F401  (registers the Ultralytics presets)
from modelyard.scheduler.presets.resolver import default_config, field_table, frameworks, resolve

load_plugins()

__all__ = [
    "ConfigInvalid",
    "FieldKind",
    "FieldProblem",
    "FieldSpec",
    "Mode",
    "PresetError",
    "ProblemCode",
    "ResolvedConfig",
    "TaskPreset",
    "default_config",
    "field_table",
    "frameworks",
    "register",
    "resolve",
]
