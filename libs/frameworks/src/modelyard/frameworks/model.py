"""The values the presets package hands out: modes, problems, the resolved configuration."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Mode(StrEnum):
    """Who is configuring: USER may set only the safe subset of options, DEVELOPER may set every option."""

    USER = "user"
    DEVELOPER = "developer"


class ProblemCode(StrEnum):
    """Machine-readable kind of a FieldProblem (a str, so `problem.code == "wrong_type"` works)."""

    UNKNOWN_FRAMEWORK = "unknown_framework"
    UNKNOWN_TASK = "unknown_task"
    UNKNOWN_MODE = "unknown_mode"
    UNKNOWN_OPTION = "unknown_option"  # the option does not exist for this framework/task
    DEVELOPER_ONLY = "developer_only"  # the option exists but user mode may not set it
    WRONG_TYPE = "wrong_type"  # e.g. "ten" for an int, 1 for a bool, 2.5 for an int
    OUT_OF_RANGE = "out_of_range"  # a number outside its min/max
    BAD_CHOICE = "bad_choice"  # a string that is not one of the option's choices
    INVALID_VALUE = "invalid_value"  # right type and range, wrong shape: imgsz not a multiple of 32, device "gpu"


@dataclass(frozen=True)
class FieldProblem:
    """One problem with a resolve request. `field` is "overrides.<name>" for an override, else "framework", "task",
    "mode" or "overrides" (when the overrides are not a mapping at all)."""

    field: str
    message: str
    code: str


class ConfigInvalid(Exception):
    """The request could not be resolved; `problems` lists every problem found, in request order."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        self.problems = list(problems)
        count = len(self.problems)
        summary = "; ".join(f"{p.field}: {p.message}" for p in self.problems)
        super().__init__(f"{count} problem{'s' if count != 1 else ''} in training config: {summary}")


@dataclass(frozen=True)
class ResolvedConfig:
    """A preset with overrides applied and checked.

    values: every option of the framework/task, in the order of its field table (preset value unless overridden).
    resolved_yaml: the values as YAML, after a first comment line naming framework, task and mode.
    cli_preview: the equivalent command line, for people to read (see the framework's module for its rules).
    """

    framework: str
    task: str
    mode: Mode
    values: dict[str, Any]
    resolved_yaml: str
    cli_preview: str
