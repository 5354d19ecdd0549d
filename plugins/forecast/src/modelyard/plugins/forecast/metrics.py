"""Forecast accuracy: the evaluation table (per variable and horizon step, in original units) and the overall figures
reported with the completed job.

For n actual values y and forecasts f, with e = y - f:

- MAE   = mean |e|
- MAPE  = 100 * mean(|e| / |y|) over the values with y != 0 (None when every y is 0)
- MSE   = mean e^2
- RMSE  = sqrt(MSE)
- NRMSE = RMSE / (max y - min y), the range of the actual values evaluated (None when that range is 0)
- WAPE  = 100 * sum |e| / sum |y| (None when sum |y| is 0)
- sMAPE = 100 * mean(2 |e| / (|y| + |f|)), a term with y = f = 0 counting as 0
- MASE  = MAE / s, where s is the in-sample MAE of the seasonal naive forecast y[t - m] on the training rows
          (m = the config's mase_season; m = 1 is the plain naive forecast, "tomorrow equals today"). Per horizon
          step this is Hyndman and Koehler's MASE (2006), scaled by the one-step (or one-season) naive error.
          None when s is 0 or unknown.

The evaluation table has one row per variable and horizon step h (1..output_steps) over all validation windows;
`delta_minutes` is how far ahead that step lies, (offset + h) * step / 60. The overall figures (the completed job's
metrics, lower-case names) apply the same formulas to every forecast value of every step and variable at once, on
min-max scaled values so that variables of different units weigh alike (as seed 004's "test_metrics_scaled");
their MASE divides by the mean over the variables of their scaled naive errors.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

METRICS = ("MAE", "MAPE", "MSE", "RMSE", "NRMSE", "WAPE", "sMAPE", "MASE")

Array = npt.NDArray[np.float64]


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def forecast_metrics(actual: npt.ArrayLike, predicted: npt.ArrayLike, mase_scale: float) -> dict[str, float | None]:
    """The eight metrics (see the module docstring) of the values given, flattened."""
    y = np.asarray(actual, dtype=np.float64).ravel()
    f = np.asarray(predicted, dtype=np.float64).ravel()
    if y.shape != f.shape or y.size == 0:
        raise ValueError(f"actual and predicted need the same, non-zero size; got {y.size} and {f.size}")
    error = np.abs(y - f)
    mae = float(error.mean())
    mse = float((error**2).mean())
    rmse = math.sqrt(mse)
    nonzero = y != 0
    mape = float(100.0 * (error[nonzero] / np.abs(y[nonzero])).mean()) if nonzero.any() else math.nan
    spread = float(y.max() - y.min())
    total = float(np.abs(y).sum())
    denominator = np.abs(y) + np.abs(f)
    terms = np.divide(2.0 * error, denominator, out=np.zeros_like(error), where=denominator > 0)
    return {
        "MAE": mae,
        "MAPE": _finite(mape),
        "MSE": mse,
        "RMSE": rmse,
        "NRMSE": _finite(rmse / spread) if spread > 0 else None,
        "WAPE": _finite(100.0 * float(error.sum()) / total) if total > 0 else None,
        "sMAPE": float(100.0 * terms.mean()),
        "MASE": _finite(mae / mase_scale) if math.isfinite(mase_scale) and mase_scale > 0 else None,
    }


def evaluation_table(
    actual: Array,
    predicted: Array,
    columns: Sequence[str],
    mase_scale: Sequence[float] | Array,
    *,
    step_seconds: int,
    offset: int,
) -> list[dict[str, Any]]:
    """One row per variable and horizon step; actual and predicted are (windows, output_steps, columns)."""
    if actual.shape != predicted.shape or actual.ndim != 3 or actual.shape[2] != len(columns):
        raise ValueError(f"expected (windows, steps, {len(columns)}) arrays, got {actual.shape} and {predicted.shape}")
    rows = []
    for c, name in enumerate(columns):
        for h in range(actual.shape[1]):
            row: dict[str, Any] = {
                "variable": name,
                "step": h + 1,
                "delta_minutes": (offset + h + 1) * step_seconds / 60.0,
            }
            row.update(forecast_metrics(actual[:, h, c], predicted[:, h, c], float(mase_scale[c])))
            rows.append(row)
    return rows


def overall(actual_scaled: Array, predicted_scaled: Array, mase_scale_scaled: float) -> dict[str, float | None]:
    """The completed job's metrics: lower-case names (mae, mape, ..., mase), on scaled values."""
    return {k.lower(): v for k, v in forecast_metrics(actual_scaled, predicted_scaled, mase_scale_scaled).items()}


def per_variable(
    actual: Array, predicted: Array, columns: Sequence[str], mase_scale: Sequence[float] | Array
) -> dict[str, Any]:
    """Per variable, over all horizon steps, in original units."""
    return {
        name: forecast_metrics(actual[:, :, c], predicted[:, :, c], float(mase_scale[c]))
        for c, name in enumerate(columns)
    }


def table_csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["variable", "step", "delta_minutes", *METRICS], lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    return out.getvalue()
