"""Resolve a training config: a registered preset, plus overrides checked against its field table and the mode."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

import yaml

from modelyard.frameworks import presets as registry
from modelyard.frameworks.fields import InvalidValue
from modelyard.frameworks.model import ConfigInvalid, FieldProblem, Mode, ProblemCode, ResolvedConfig


def frameworks() -> dict[str, list[str]]:
    """framework -> the tasks it has presets for."""
    return registry.frameworks()


def default_config(framework: str, task: str) -> ResolvedConfig:
    """The preset for framework/task with no overrides (reported as developer mode)."""
    return resolve(framework, task, Mode.DEVELOPER, {})


def field_table(framework: str, task: str) -> list[dict[str, Any]]:
    """One row per option, in preset order: name, type, default, min, max, choices, user_mode, help (and
    exclusive_min, exclusive_max, multiple_of, special_values, nullable)."""
    problems: list[FieldProblem] = []
    preset = _preset(framework, task, problems)
    if preset is None:
        raise ConfigInvalid(problems)
    defaults = registry.preset_values(preset)
    return [spec.describe(defaults[spec.name]) for spec in preset.fields]


def resolve(framework: str, task: str, mode: Mode | str, overrides: Mapping[str, Any]) -> ResolvedConfig:
    """Apply overrides to the framework/task preset. Raises ConfigInvalid listing every problem found: unknown
    framework/task/mode, unknown option, option not allowed in user mode, wrong type, out of range, bad choice."""
    problems: list[FieldProblem] = []
    preset = _preset(framework, task, problems)
    resolved_mode = _mode(mode, problems)
    given: object = overrides  # callers pass JSON: check the type rather than trust the annotation
    if not isinstance(given, Mapping):
        problems.append(
            FieldProblem("overrides", "expected an object of option: value pairs", str(ProblemCode.WRONG_TYPE))
        )
        given = {}
    if preset is None:
        raise ConfigInvalid(problems)

    values = registry.preset_values(preset)
    user_names = sorted(spec.name for spec in preset.fields if spec.user_mode)
    for name, raw in given.items():
        field = f"overrides.{name}"
        spec = preset.field(name) if isinstance(name, str) else None
        if spec is None:
            problems.append(FieldProblem(field, _unknown_option(preset, name), str(ProblemCode.UNKNOWN_OPTION)))
            continue
        if resolved_mode is Mode.USER and not spec.user_mode:
            message = f"{name} needs developer mode; user mode may set only {', '.join(user_names)}"
            problems.append(FieldProblem(field, message, str(ProblemCode.DEVELOPER_ONLY)))
            continue
        try:
            values[name] = spec.check(raw)
        except InvalidValue as error:
            problems.append(FieldProblem(field, error.message, str(error.code)))
    if problems or resolved_mode is None:
        raise ConfigInvalid(problems)

    header = f"# modelyard training config: framework={preset.framework} task={preset.task} mode={resolved_mode}\n"
    return ResolvedConfig(
        framework=preset.framework,
        task=preset.task,
        mode=resolved_mode,
        values=values,
        resolved_yaml=header + yaml.safe_dump(values, sort_keys=False, default_flow_style=False, allow_unicode=True),
        cli_preview=preset.render_command(preset.task, dict(values)),
    )


def _preset(framework: object, task: object, problems: list[FieldProblem]) -> registry.TaskPreset | None:
    known = registry.frameworks()
    if not isinstance(framework, str) or framework not in known:
        message = f"unknown framework {framework!r}; known: {', '.join(known) or 'none'}"
        problems.append(FieldProblem("framework", message, str(ProblemCode.UNKNOWN_FRAMEWORK)))
        return None
    preset = registry.lookup(framework, task) if isinstance(task, str) else None
    if preset is None:
        message = f"unknown task {task!r} for {framework}; known: {', '.join(known[framework])}"
        problems.append(FieldProblem("task", message, str(ProblemCode.UNKNOWN_TASK)))
    return preset


def _mode(mode: object, problems: list[FieldProblem]) -> Mode | None:
    if isinstance(mode, str):
        try:
            return Mode(mode)
        except ValueError:
            pass
    message = f"unknown mode {mode!r}; known: {', '.join(Mode)}"
    problems.append(FieldProblem("mode", message, str(ProblemCode.UNKNOWN_MODE)))
    return None


def _unknown_option(preset: registry.TaskPreset, name: object) -> str:
    message = f"unknown option {name!r} for {preset.framework}/{preset.task}"
    if isinstance(name, str):
        close = difflib.get_close_matches(name, [spec.name for spec in preset.fields], n=3)
        if close:
            message += f"; did you mean {' or '.join(close)}?"
    return message
