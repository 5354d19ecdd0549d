"""Every metric of the evaluation table against an independent computation: scikit-learn's metrics where it has
them (MAE, MSE, RMSE, MAPE), plain Python loops over the definitions for the others (NRMSE, WAPE, sMAPE, MASE)."""

from __future__ import annotations

import csv
import io
import math

import numpy as np
import pytest
from sklearn.metrics import (  # type: ignore[import-untyped]
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    root_mean_squared_error,
)

from modelyard.plugins.forecast.metrics import METRICS, evaluation_table, forecast_metrics, overall, table_csv


def reference(actual: list[float], predicted: list[float], scale: float) -> dict[str, float | None]:
    """The definitions, written out one value at a time."""
    n = len(actual)
    errors = [abs(y - f) for y, f in zip(actual, predicted, strict=True)]
    nonzero = [(y, f) for y, f in zip(actual, predicted, strict=True) if y != 0]
    rmse = float(root_mean_squared_error(actual, predicted))
    smape_terms = [
        0.0 if abs(y) + abs(f) == 0 else 2 * abs(y - f) / (abs(y) + abs(f))
        for y, f in zip(actual, predicted, strict=True)
    ]
    mae = float(mean_absolute_error(actual, predicted))
    return {
        "MAE": mae,
        "MAPE": 100 * float(mean_absolute_percentage_error([y for y, _ in nonzero], [f for _, f in nonzero]))
        if nonzero
        else None,
        "MSE": float(mean_squared_error(actual, predicted)),
        "RMSE": rmse,
        "NRMSE": rmse / (max(actual) - min(actual)) if max(actual) > min(actual) else None,
        "WAPE": 100 * sum(errors) / sum(abs(y) for y in actual) if any(actual) else None,
        "sMAPE": 100 * sum(smape_terms) / n,
        "MASE": mae / scale if scale > 0 else None,
    }


def naive_mae(series: list[float], season: int) -> float:
    diffs = [abs(series[t] - series[t - season]) for t in range(season, len(series))]
    return sum(diffs) / len(diffs)


def assert_same(ours: dict[str, float | None], theirs: dict[str, float | None], rel: float = 1e-12) -> None:
    assert set(ours) == set(METRICS) == set(theirs)
    for name in METRICS:
        if theirs[name] is None:
            assert ours[name] is None, name
        else:
            assert ours[name] == pytest.approx(theirs[name], rel=rel, abs=1e-12), name


def test_each_metric_matches_an_independent_computation() -> None:
    rng = np.random.default_rng(7)
    history = list(rng.normal(20, 5, 200))
    actual = list(rng.normal(20, 5, 60))
    predicted = [y + e for y, e in zip(actual, rng.normal(0, 2, 60), strict=True)]
    for season in (1, 24):
        scale = naive_mae(history, season)
        assert_same(forecast_metrics(actual, predicted, scale), reference(actual, predicted, scale))


def test_zero_actuals_are_left_out_of_mape_and_count_as_zero_in_smape() -> None:
    actual = [0.0, 2.0, 0.0, 4.0]
    predicted = [0.0, 1.0, 1.0, 5.0]
    ours = forecast_metrics(actual, predicted, 1.0)
    assert_same(ours, reference(actual, predicted, 1.0))
    assert ours["MAPE"] == pytest.approx(100 * (0.5 + 0.25) / 2)
    assert ours["sMAPE"] == pytest.approx(100 * (0 + 2 / 3 + 2 + 2 / 9) / 4)
    nothing = forecast_metrics([0.0, 0.0], [1.0, 1.0], 0.0)
    assert nothing["MAPE"] is None and nothing["WAPE"] is None and nothing["NRMSE"] is None and nothing["MASE"] is None


def test_the_table_has_one_row_per_variable_and_step_each_matching_the_definitions() -> None:
    rng = np.random.default_rng(11)
    actual = rng.normal(50, 10, (40, 3, 2))
    predicted = actual + rng.normal(0, 3, actual.shape)
    scales = [2.5, 7.0]
    rows = evaluation_table(actual, predicted, ["temp", "load"], scales, step_seconds=900, offset=1)
    assert [(r["variable"], r["step"], r["delta_minutes"]) for r in rows] == [
        (name, h, (1 + h) * 15.0) for name in ("temp", "load") for h in (1, 2, 3)
    ]
    for row in rows:
        c, h = ("temp", "load").index(row["variable"]), row["step"] - 1
        expected = reference(list(actual[:, h, c]), list(predicted[:, h, c]), scales[c])
        assert_same({k: row[k] for k in METRICS}, expected)
    parsed = list(csv.DictReader(io.StringIO(table_csv(rows))))
    assert len(parsed) == 6 and float(parsed[4]["RMSE"]) == pytest.approx(rows[4]["RMSE"])


def test_overall_metrics_have_lower_case_names_and_pool_every_value() -> None:
    rng = np.random.default_rng(5)
    actual = rng.random((10, 6))
    predicted = actual + 0.1
    figures = overall(actual, predicted, 0.2)
    assert set(figures) == {m.lower() for m in METRICS}
    assert figures["mae"] == pytest.approx(0.1) and figures["mase"] == pytest.approx(0.5)
    assert figures["rmse"] == pytest.approx(math.sqrt(float(mean_squared_error(actual.ravel(), predicted.ravel()))))
