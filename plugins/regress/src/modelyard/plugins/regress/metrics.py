"""Validation metrics of a rating regressor, in numpy: MSE, MAE and Spearman's rank correlation.

Spearman's rho is the Pearson correlation of the two rank vectors, tied values sharing the mean of the ranks they
span (the definition scipy.stats.spearmanr uses). It is undefined (NaN) when either side is constant or there are
fewer than two pairs; the protocol reports NaN as null.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def _pair(predicted: npt.ArrayLike, target: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    p = np.asarray(predicted, dtype=np.float64).reshape(-1)
    t = np.asarray(target, dtype=np.float64).reshape(-1)
    if p.shape != t.shape:
        raise ValueError(f"predicted and target differ in length: {p.size} != {t.size}")
    return p, t


def mse(predicted: npt.ArrayLike, target: npt.ArrayLike) -> float:
    p, t = _pair(predicted, target)
    return float(np.mean((p - t) ** 2)) if p.size else math.nan


def mae(predicted: npt.ArrayLike, target: npt.ArrayLike) -> float:
    p, t = _pair(predicted, target)
    return float(np.mean(np.abs(p - t))) if p.size else math.nan


def average_ranks(values: npt.ArrayLike) -> FloatArray:
    """1-based ranks; a run of equal values gets the mean of the ranks it spans ([10, 20, 20] -> [1, 2.5, 2.5])."""
    x = np.asarray(values, dtype=np.float64).reshape(-1)
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(x.size, dtype=np.float64)
    sorted_x = x[order]
    # starts of runs of equal values in sorted order
    starts = np.flatnonzero(np.concatenate(([True], sorted_x[1:] != sorted_x[:-1])))
    ends = np.concatenate((starts[1:], [x.size]))  # exclusive
    mean_rank = (starts + ends + 1) / 2.0  # mean of the 1-based ranks start+1 .. end
    ranks[order] = np.repeat(mean_rank, ends - starts)
    return ranks


def spearman(predicted: npt.ArrayLike, target: npt.ArrayLike) -> float:
    p, t = _pair(predicted, target)
    if p.size < 2 or not (np.all(np.isfinite(p)) and np.all(np.isfinite(t))):
        return math.nan
    rp, rt = average_ranks(p), average_ranks(t)
    dp, dt = rp - rp.mean(), rt - rt.mean()
    denominator = math.sqrt(float(np.sum(dp * dp)) * float(np.sum(dt * dt)))
    if denominator == 0.0:
        return math.nan
    return float(np.clip(np.sum(dp * dt) / denominator, -1.0, 1.0))


def evaluate(predicted: npt.ArrayLike, target: npt.ArrayLike) -> dict[str, float]:
    """mse, mae and spearman of one validation pass."""
    return {"mse": mse(predicted, target), "mae": mae(predicted, target), "spearman": spearman(predicted, target)}
