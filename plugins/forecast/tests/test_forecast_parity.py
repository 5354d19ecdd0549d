"""ONNX parity: the exported file's outputs equal the scikit-learn or torch model's on the same windows.

Tolerances are absolute, in scaled units (the targets lie in about [0, 1]). scikit-learn computes in float64, torch
in float32; the ONNX graphs compute in float32 on float32 inputs, so the differences are float32 rounding. Measured
on these windows (max over the validation set): linear 2.3e-6, ridge 5e-7, svr (rbf) 1.3e-6, svr (linear kernel)
2.1e-4 (its float32 kernel sums over hundreds of support vectors cancel), mlp 3e-8 to 1.2e-7. Limits: 1e-5 for
linear, ridge, svr (rbf) and mlp; 1e-3 for svr with the linear kernel."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
import torch

from modelyard.plugins.forecast import mlp, onnx_export, sklearn_models
from modelyard.plugins.forecast.features import METADATA_KEY, ForecastSpec
from modelyard.plugins.forecast.series import load_dataset
from modelyard.plugins.forecast.train import resolve_config
from modelyard.plugins.forecast.windows import Prepared, prepare

from .conftest import FAST

TOLERANCE = 1e-5
LINEAR_KERNEL_SVR_TOLERANCE = 1e-3


@pytest.fixture(scope="module")
def prepared(series_data: Path) -> Prepared:
    return prepare(load_dataset(series_data), resolve_config(FAST | {"model": "linear"}))


def onnx_outputs(model: Any, spec: ForecastSpec, x: np.ndarray[Any, Any], path: Path) -> np.ndarray[Any, Any]:
    onnx_export.write(model, spec, path)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["input"]
    assert [o.name for o in session.get_outputs()] == ["forecast"]
    meta = session.get_modelmeta().custom_metadata_map
    assert meta["task"] == "forecast" and ForecastSpec.from_json(meta[METADATA_KEY]) == spec
    return np.asarray(session.run(None, {"input": x.astype(np.float32)})[0], dtype=np.float64)


@pytest.mark.parametrize(
    ("overrides", "tolerance"),
    [
        ({"model": "linear"}, TOLERANCE),
        ({"model": "linear", "alpha": 0.5}, TOLERANCE),
        ({"model": "svr"}, TOLERANCE),
        ({"model": "svr", "kernel": "linear"}, LINEAR_KERNEL_SVR_TOLERANCE),
    ],
)
def test_sklearn_models_and_their_onnx_agree(
    prepared: Prepared, tmp_path: Path, overrides: dict[str, Any], tolerance: float
) -> None:
    config = resolve_config(FAST | overrides)
    estimator = sklearn_models.build(config)
    estimator.fit(prepared.train.x, prepared.train.y)
    expected = sklearn_models.predict(estimator, prepared.val.x)
    spec = prepared.spec
    got = onnx_outputs(
        sklearn_models.to_onnx(estimator, spec.input_size, spec.output_size), spec, prepared.val.x, tmp_path / "m.onnx"
    )
    assert got.shape == expected.shape == (len(prepared.val), spec.output_size)
    difference = float(np.abs(got - expected).max())
    assert difference <= tolerance, difference


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "gelu"])
def test_the_mlp_and_its_onnx_agree(prepared: Prepared, tmp_path: Path, activation: str) -> None:
    import onnx

    config = resolve_config(FAST | {"model": "mlp", "activation": activation, "dropout": 0.2, "hidden_layers": 3})
    spec = prepared.spec
    torch.manual_seed(0)
    model = mlp.build(config, spec.input_size, spec.output_size).eval()
    with torch.no_grad():
        expected = model(torch.tensor(prepared.val.x, dtype=torch.float32)).numpy().astype(np.float64)
    proto = onnx.load_from_string(mlp.to_onnx_bytes(model, spec.input_size))
    got = onnx_outputs(proto, spec, prepared.val.x, tmp_path / "m.onnx")
    assert got.shape == expected.shape == (len(prepared.val), spec.output_size)
    difference = float(np.abs(got - expected).max())
    assert difference <= TOLERANCE, difference
