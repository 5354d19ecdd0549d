"""The scikit-learn models: `linear` (ordinary least squares, or ridge with alpha > 0) and `svr` (one
support-vector regressor per output value, MultiOutputRegressor(SVR)). Exported to ONNX with skl2onnx: a float32
input "input" (n, input_size) and output "forecast" (n, output_size)."""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

INPUT_NAME = "input"
OUTPUT_NAME = "forecast"
ONNX_OPSETS = {"": 17, "ai.onnx.ml": 3}


def build(config: Mapping[str, Any]) -> Any:
    """An unfitted estimator for config["model"] ("linear" or "svr")."""
    kind = config["model"]
    if kind == "linear":
        from sklearn.linear_model import LinearRegression, Ridge  # type: ignore[import-untyped]

        alpha = float(config["alpha"])
        return Ridge(alpha=alpha) if alpha > 0 else LinearRegression()
    if kind == "svr":
        from sklearn.multioutput import MultiOutputRegressor  # type: ignore[import-untyped]
        from sklearn.svm import SVR  # type: ignore[import-untyped]

        svr = SVR(
            kernel=str(config["kernel"]),
            C=float(config["C"]),
            epsilon=float(config["epsilon"]),
            gamma=str(config["gamma"]),
            degree=int(config["degree"]),
        )
        return MultiOutputRegressor(svr)
    raise ValueError(f"{kind!r} is not a scikit-learn model here (linear or svr)")


def predict(estimator: Any, x: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """(n, output_size) predictions, always 2-D."""
    out = np.asarray(estimator.predict(np.asarray(x, dtype=np.float64)), dtype=np.float64)
    return out.reshape(out.shape[0], -1)


def to_onnx(estimator: Any, input_size: int, output_size: int) -> Any:
    """The fitted estimator as an onnx.ModelProto."""
    from skl2onnx import convert_sklearn  # type: ignore[import-untyped]
    from skl2onnx.common.data_types import FloatTensorType  # type: ignore[import-untyped]

    return convert_sklearn(
        estimator,
        initial_types=[(INPUT_NAME, FloatTensorType([None, input_size]))],
        final_types=[(OUTPUT_NAME, FloatTensorType([None, output_size]))],
        target_opset=ONNX_OPSETS,
    )


def save_checkpoint(path: Path, payload: Mapping[str, Any]) -> None:
    """Pickle `payload` (estimator, epoch, spec, ...) atomically: a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("wb") as fh:
        pickle.dump(dict(payload), fh, protocol=pickle.HIGHEST_PROTOCOL)
    tmp.replace(path)


def load_checkpoint(path: Path) -> dict[str, Any]:
    """A checkpoint this plugin wrote for an earlier attempt of the same job (trusted: it comes from the job's own
    artifacts in the object store)."""
    with path.open("rb") as fh:
        data = pickle.load(fh)  # noqa: S301 - our own checkpoint of this job, never user-supplied
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not a forecast checkpoint")
    return data
