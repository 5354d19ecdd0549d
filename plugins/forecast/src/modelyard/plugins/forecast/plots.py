"""The plots a forecast job keeps (PNG, matplotlib's Agg backend, no display needed), per variable:

- `violin_<variable>.png`: the distribution of the variable's values in the training and the validation rows;
- `forecast_<variable>.png`: forecast against actual on the validation windows: above, the first and the last
  horizon step of every window along time; below, the last validation window (its input rows, the actual rows
  that followed and the forecast).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import numpy.typing as npt

from modelyard.plugins.forecast.features import ForecastSpec

Array = npt.NDArray[np.float64]


def safe_names(columns: Sequence[str]) -> list[str]:
    """A file-name-safe, unique stem per column (artifact names allow letters, digits, '.', '_' and '-')."""
    out: list[str] = []
    for index, name in enumerate(columns):
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._-")[:60] or f"column{index + 1}"
        while stem in out:
            stem = f"{stem}-{index + 1}"
        out.append(stem)
    return out


def violin(path: Path, name: str, train: Array, val: Array) -> Path:
    groups = [(label, values[~np.isnan(values)]) for label, values in (("train", train), ("val", val))]
    groups = [(label, values) for label, values in groups if values.size]
    figure, axis = plt.subplots(figsize=(5, 4), dpi=100)
    try:
        if groups:
            axis.violinplot([values for _, values in groups], showmedians=True)
            axis.set_xticks(range(1, len(groups) + 1), [f"{label} (n={values.size})" for label, values in groups])
        axis.set_title(f"{name}: distribution")
        axis.set_ylabel(name)
        figure.tight_layout()
        figure.savefig(path, format="png")
    finally:
        plt.close(figure)
    return path


def forecast_vs_actual(
    path: Path,
    spec: ForecastSpec,
    column: int,
    first_output: Sequence[datetime],
    actual: Array,
    predicted: Array,
    last_inputs: Array,
) -> Path:
    """actual and predicted are (windows, output_steps, columns) in original units; last_inputs the input rows
    (input_steps, columns) of the last window."""
    name = spec.columns[column]
    step = timedelta(seconds=spec.step_seconds)
    order = np.argsort(np.array([t.timestamp() for t in first_output]))
    times = [first_output[i] for i in order]
    horizon = spec.output_steps
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6), dpi=100)
    try:
        top.plot(times, actual[order, 0, column], label="actual", color="black", linewidth=1)
        top.plot(times, predicted[order, 0, column], label="forecast, step 1", linewidth=1)
        if horizon > 1:
            shifted = [t + step * (horizon - 1) for t in times]
            top.plot(shifted, predicted[order, -1, column], label=f"forecast, step {horizon}", linewidth=1, alpha=0.7)
        top.set_title(f"{name}: forecast against actual (validation)")
        top.legend(loc="best", fontsize="small")
        last = int(order[-1])
        start = first_output[last] - step * (spec.offset + spec.input_steps)
        history = [start + step * k for k in range(spec.input_steps)]
        future = [first_output[last] + step * k for k in range(horizon)]
        bottom.plot(history, last_inputs[:, column], label="input", color="grey", marker=".")
        bottom.plot(future, actual[last, :, column], label="actual", color="black", marker=".")
        bottom.plot(future, predicted[last, :, column], label="forecast", marker="x")
        bottom.set_title("last validation window")
        bottom.legend(loc="best", fontsize="small")
        for axis in (top, bottom):
            axis.tick_params(axis="x", labelrotation=20)
        figure.tight_layout()
        figure.savefig(path, format="png")
    finally:
        plt.close(figure)
    return path
