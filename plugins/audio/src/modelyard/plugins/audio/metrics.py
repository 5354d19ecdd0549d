"""Classification metrics from predicted and true class ids (numpy only)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]


def confusion(true: IntArray, predicted: IntArray, classes: int) -> IntArray:
    """(classes, classes) counts: row = true class, column = predicted class."""
    matrix = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(matrix, (true, predicted), 1)
    return matrix


def accuracy(matrix: IntArray) -> float:
    total = int(matrix.sum())
    return float(np.trace(matrix)) / total if total else 0.0


def macro_f1(matrix: IntArray) -> float:
    """Mean F1 over the classes that occur as a true or a predicted class (a class with no true positive scores 0)."""
    tp = np.diag(matrix).astype(np.float64)
    predicted, actual = matrix.sum(axis=0), matrix.sum(axis=1)
    present = (predicted + actual) > 0
    if not present.any():
        return 0.0
    denominator = (predicted + actual).astype(np.float64)
    f1 = np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)
    return float(f1[present].mean())
