"""MSE, MAE and Spearman's rho against hand-worked cases, an independent plain-Python computation and, where it is
installed, scipy."""

from __future__ import annotations

import importlib.util
import math
import random

import numpy as np
import pytest

from modelyard.plugins.regress.metrics import average_ranks, evaluate, mae, mse, spearman


def _ranks_by_hand(values: list[float]) -> list[float]:
    """Tied values share the mean of the 1-based positions they occupy when sorted (the textbook definition)."""
    ordered = sorted(values)
    return [
        sum(i + 1 for i, other in enumerate(ordered) if other == v) / sum(1 for other in ordered if other == v)
        for v in values
    ]


def _pearson_by_hand(x: list[float], y: list[float]) -> float:
    mx, my = sum(x) / len(x), sum(y) / len(y)
    cov = sum((a - mx) * (b - my) for a, b in zip(x, y, strict=True))
    sx = math.sqrt(sum((a - mx) ** 2 for a in x))
    sy = math.sqrt(sum((b - my) ** 2 for b in y))
    return cov / (sx * sy)


def test_average_ranks_share_the_mean_rank_of_ties() -> None:
    assert average_ranks([10, 20, 20, 5]).tolist() == [2.0, 3.5, 3.5, 1.0]
    assert average_ranks([0.3, 0.3, 0.3]).tolist() == [2.0, 2.0, 2.0]
    assert average_ranks([]).tolist() == []


def test_spearman_of_hand_worked_cases() -> None:
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [0.9, 0.5, 0.2, 0.1]) == pytest.approx(-1.0)
    # no ties: rho = 1 - 6 * sum(d^2) / (n (n^2 - 1)); ranks (1,2,3,4,5) vs (2,1,4,3,5): sum(d^2) = 4 -> 0.8
    assert spearman([0.1, 0.2, 0.3, 0.4, 0.5], [0.25, 0.2, 0.6, 0.4, 0.9]) == pytest.approx(0.8)
    # ties: ranks x = (1, 2.5, 2.5, 4), y = (1, 2, 3, 4) -> Pearson of those = 0.9486832980505138
    assert spearman([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(0.9486832980505138)
    # monotone but not linear: rank correlation is still perfect
    assert spearman([0.01, 0.02, 0.5, 0.99], [1, 8, 27, 64]) == pytest.approx(1.0)


def test_spearman_is_undefined_for_constant_or_too_short_input() -> None:
    assert math.isnan(spearman([0.5, 0.5, 0.5], [0.1, 0.2, 0.3]))
    assert math.isnan(spearman([0.5], [0.1]))
    assert math.isnan(spearman([], []))
    assert math.isnan(spearman([0.1, float("nan")], [0.1, 0.2]))


def test_spearman_matches_a_plain_python_computation_on_random_data_with_ties() -> None:
    rng = random.Random(3)
    for _ in range(200):
        n = rng.randint(2, 30)
        x = [round(rng.random(), 1) for _ in range(n)]  # one decimal: plenty of ties
        y = [round(rng.random(), 2) for _ in range(n)]
        rx, ry = _ranks_by_hand(x), _ranks_by_hand(y)
        assert average_ranks(x).tolist() == pytest.approx(rx)
        if len(set(x)) < 2 or len(set(y)) < 2:
            assert math.isnan(spearman(x, y))
        else:
            assert spearman(x, y) == pytest.approx(_pearson_by_hand(rx, ry), abs=1e-12)


@pytest.mark.skipif(importlib.util.find_spec("scipy") is None, reason="scipy is not installed here")
def test_spearman_matches_scipy() -> None:
    from scipy import stats  # type: ignore[import-untyped, import-not-found, unused-ignore]  # optional, untyped

    rng = np.random.default_rng(5)
    for _ in range(50):
        n = int(rng.integers(3, 50))
        x = np.round(rng.random(n), 1)
        y = np.round(rng.random(n), 2)
        assert spearman(x, y) == pytest.approx(float(stats.spearmanr(x, y).statistic), abs=1e-12)


def test_mse_and_mae_of_hand_worked_cases() -> None:
    predicted, target = [0.5, 0.2, 0.9], [0.4, 0.4, 0.9]
    assert mse(predicted, target) == pytest.approx((0.01 + 0.04 + 0.0) / 3)
    assert mae(predicted, target) == pytest.approx((0.1 + 0.2 + 0.0) / 3)
    assert evaluate(predicted, target) == {
        "mse": pytest.approx(0.05 / 3),
        "mae": pytest.approx(0.1),
        "spearman": pytest.approx(spearman(predicted, target)),
    }
    assert math.isnan(mse([], []))
    with pytest.raises(ValueError, match="differ in length"):
        mae([0.1, 0.2], [0.1])
