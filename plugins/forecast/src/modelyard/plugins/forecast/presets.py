"""The forecast preset: its field table, packaged YAML (data/forecast.yaml) and command-line preview.

Fields follow seed 004's configuration: the windows (input_steps, output_steps, offset; window_stride between
window starts), the calendar features (year, month, week, day_of_week, day, hour, holiday with holiday_country,
time_zone), the model (linear | mlp | svr) and each model's hyperparameters (the other models' fields are ignored).
User mode may set the windows, the features, the model and epochs; developer mode every field.

CLI preview: `python -m modelyard.plugins.forecast.train --data <dataset.yaml> --workdir <workdir> key=value ...`
listing every value that differs from the packaged preset, in field-table order. The child's command line accepts
exactly that (key=value pairs over the same preset, checked against the same field table), so running it with a
dataset's data.yaml trains with the resolved values.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

from modelyard.frameworks import presets
from modelyard.frameworks.fields import FieldKind, FieldSpec
from modelyard.frameworks.presets import TaskPreset
from modelyard.plugins.forecast import FRAMEWORK, TASK
from modelyard.plugins.forecast.features import MODEL_KINDS
from modelyard.plugins.forecast.holidays import COUNTRIES

DATA_PACKAGE = "modelyard.plugins.forecast.data"
PRESET_FILE = "forecast.yaml"
DATA_PLACEHOLDER = "<dataset.yaml>"
WORKDIR_PLACEHOLDER = "<workdir>"
CHILD_MODULE = "modelyard.plugins.forecast.train"
TIME_ZONES = (
    "UTC",
    "Europe/Vienna",
    "Europe/Berlin",
    "Europe/Zurich",
    "Europe/London",
    "Europe/Paris",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "Asia/Tokyo",
)

_INT, _FLOAT, _BOOL, _CHOICE = FieldKind.INT, FieldKind.FLOAT, FieldKind.BOOL, FieldKind.CHOICE


def _feature(name: str, help: str) -> FieldSpec:
    return FieldSpec(name, _BOOL, help, user_mode=True)


FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec(
        "model",
        _CHOICE,
        "linear regression, multi-layer perceptron (torch) or SVR",
        user_mode=True,
        choices=MODEL_KINDS,
    ),
    FieldSpec(
        "epochs", _INT, "training epochs of the mlp (linear and svr train in one)", user_mode=True, min=1, max=10000
    ),
    FieldSpec("input_steps", _INT, "rows of history the model sees (input window)", user_mode=True, min=1, max=10000),
    FieldSpec("output_steps", _INT, "rows the model forecasts (output window)", user_mode=True, min=1, max=1000),
    FieldSpec(
        "offset", _INT, "rows skipped between the input window and the forecast", user_mode=True, min=0, max=10000
    ),
    FieldSpec(
        "window_stride", _INT, "rows between the starts of consecutive windows", user_mode=True, min=1, max=10000
    ),
    FieldSpec(
        "val_fraction",
        _FLOAT,
        "share of each series' last rows held out for validation when the dataset has no val series",
        user_mode=True,
        min=0.0,
        max=0.9,
        exclusive_min=True,
    ),
    _feature("year", "calendar feature: position in the year"),
    _feature("month", "calendar feature: month of the year"),
    _feature("week", "calendar feature: ISO week of the year"),
    _feature("day_of_week", "calendar feature: weekday"),
    _feature("day", "calendar feature: day of the month"),
    _feature("hour", "calendar feature: time of day (only for steps under a day)"),
    _feature("holiday", "calendar feature: public holiday of holiday_country"),
    FieldSpec(
        "holiday_country", _CHOICE, "country whose public holidays are flagged", user_mode=True, choices=COUNTRIES
    ),
    FieldSpec(
        "time_zone", _CHOICE, "time zone whose wall clock the calendar features use", user_mode=True, choices=TIME_ZONES
    ),
    FieldSpec("mase_season", _INT, "season m of MASE's naive forecast y[t-m] (1: plain naive)", min=1, max=10000),
    FieldSpec("seed", _INT, "random seed", min=0, max=2**32 - 1),
    # mlp
    FieldSpec("hidden_layers", _INT, "mlp: hidden layers", min=1, max=16),
    FieldSpec("hidden_units", _INT, "mlp: units per hidden layer", min=1, max=4096),
    FieldSpec("activation", _CHOICE, "mlp: activation", choices=("relu", "tanh", "sigmoid", "gelu")),
    FieldSpec("dropout", _FLOAT, "mlp: dropout after each hidden layer", min=0.0, max=0.9),
    FieldSpec("batch", _INT, "mlp: batch size", min=1, max=65536),
    FieldSpec("lr0", _FLOAT, "mlp: initial learning rate (Adam)", min=0.0, max=1.0, exclusive_min=True),
    FieldSpec("lrf", _FLOAT, "mlp: final learning rate as a fraction of lr0 (cosine)", min=0.0, max=1.0),
    FieldSpec("weight_decay", _FLOAT, "mlp: weight decay", min=0.0, max=1.0),
    FieldSpec("shuffle", _BOOL, "mlp: shuffle the training windows every epoch"),
    # linear
    FieldSpec("alpha", _FLOAT, "linear: ridge penalty; 0 is ordinary least squares", min=0.0, max=1e6),
    # svr
    FieldSpec("kernel", _CHOICE, "svr: kernel", choices=("rbf", "linear", "poly", "sigmoid")),
    FieldSpec("C", _FLOAT, "svr: regularisation C", min=0.0, max=1e6, exclusive_min=True),
    FieldSpec("epsilon", _FLOAT, "svr: epsilon tube (scaled units)", min=0.0, max=10.0),
    FieldSpec("gamma", _CHOICE, "svr: kernel coefficient", choices=("scale", "auto")),
    FieldSpec("degree", _INT, "svr: degree of the poly kernel", min=1, max=10),
)


def preset() -> TaskPreset:
    return TaskPreset(FRAMEWORK, TASK, FIELDS, PRESET_FILE, render_command, DATA_PACKAGE)


def _format(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return shlex.quote(str(value))


def render_command(task: str, values: Mapping[str, Any]) -> str:
    """`python -m modelyard.plugins.forecast.train --data <dataset.yaml> --workdir <workdir> key=value ...`."""
    registered = presets.lookup(FRAMEWORK, task)
    defaults = presets.preset_values(registered or preset())
    parts = ["python", "-m", CHILD_MODULE, "--data", DATA_PLACEHOLDER, "--workdir", WORKDIR_PLACEHOLDER]
    for name, value in values.items():
        if name not in defaults or value != defaults[name]:
            parts.append(f"{name}={_format(value)}")
    return " ".join(parts)


def register() -> None:
    """The `modelyard.presets` entry point."""
    if presets.lookup(FRAMEWORK, TASK) is None:
        presets.register(preset())
