"""The edge runtime on models the child exported: it answers in original units what training computes for the same
rows, names the field of bad input, and imports neither torch nor the training code."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest

from modelyard.edge import runtimes
from modelyard.edge.models import InvalidModel, load_model
from modelyard.edge.runtimes import BadInput
from modelyard.plugins.forecast.edge import ForecastModelError, ForecastPredictor
from modelyard.plugins.forecast.features import parse_timestamp
from modelyard.plugins.forecast.series import load_dataset
from modelyard.plugins.forecast.windows import prepare

from .conftest import FAST, FinishedRun


def model_path(run: FinishedRun) -> Path:
    (exported,) = run.run.of_type("exported")
    return Path(exported.path)


def body(rows: list[list[Any]]) -> bytes:
    return json.dumps({"timestamps": [r[0] for r in rows], "values": [r[1:] for r in rows]}).encode()


def val_rows(series_data: Path) -> list[list[Any]]:
    (path,) = (p for p in (series_data.parent / "val").glob("*.csv") if p.name != "labels.csv")
    lines = path.read_text().splitlines()[1:]
    return [[cells[0], float(cells[1]), float(cells[2])] for cells in (line.split(",") for line in lines)]


@pytest.mark.parametrize("model", ["linear", "svr", "mlp"])
def test_a_forecast_in_original_units_equals_what_training_computes(
    finished_runs: dict[str, FinishedRun], series_data: Path, model: str
) -> None:
    path = model_path(finished_runs[model])
    predictor = runtimes.load("forecast", path, ai_module="energy", version="1.2.0", counter=3)
    assert isinstance(predictor, ForecastPredictor)
    info = predictor.info
    assert (info.task, info.class_names, info.imgsz, info.version, info.counter) == ("forecast", (), (0, 0), "1.2.0", 3)
    spec = predictor.spec
    rows = val_rows(series_data)[: spec.input_steps]
    answer = predictor.predict(body(rows), {})
    last = parse_timestamp(rows[-1][0])
    assert answer["columns"] == ["temperature", "load"]
    assert answer["timestamps"] == [(last + timedelta(hours=h)).isoformat() for h in (1, 2, 3)]
    forecast = np.array(answer["forecast"])
    assert forecast.shape == (3, 2)
    # the training side: the first validation window has exactly these input rows
    from modelyard.plugins.forecast.train import resolve_config

    prepared = prepare(load_dataset(series_data), resolve_config(FAST | {"model": model}), spec)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    scaled = session.run(None, {"input": prepared.val.x[:1].astype(np.float32)})[0]
    np.testing.assert_allclose(forecast, spec.forecast_rows(scaled)[0], rtol=1e-5, atol=1e-4)
    # and the answer is a sane forecast of the daily cycle: within the range seen in training, give or take
    low, high = np.array(spec.scaler_min), np.array(spec.scaler_max)
    assert ((forecast > low - (high - low)) & (forecast < high + (high - low))).all()


def test_bad_input_names_the_field(finished_runs: dict[str, FinishedRun], series_data: Path) -> None:
    predictor = runtimes.load(
        "forecast", model_path(finished_runs["linear"]), ai_module="m", version="1.0.0", counter=1
    )
    assert isinstance(predictor, ForecastPredictor)
    rows = val_rows(series_data)[:12]

    def field_of(payload: bytes) -> str:
        with pytest.raises(BadInput) as caught:
            predictor.predict(payload, {})
        return caught.value.field

    assert field_of(b"not json") == "body"
    assert field_of(b"[1, 2]") == "body"
    assert field_of(body(rows[:11])) == "timestamps"  # one row short: the timestamps say so first
    assert (
        field_of(json.dumps({"timestamps": [r[0] for r in rows], "values": [r[1:] for r in rows[:11]]}).encode())
        == "values"
    )
    assert field_of(body([*rows[:11], [rows[11][0], 1.0]])) == "values"  # a row with one column
    assert field_of(body([*rows[:11], [rows[11][0], 1.0, 2.0, 3.0]])) == "values"
    assert field_of(body([*rows[:11], [rows[11][0], "warm", 2.0]])) == "values"
    assert field_of(body([*rows[:11], ["yesterday", 1.0, 2.0]])) == "timestamps"
    assert field_of(body([*rows[:10], rows[11], rows[10]])) == "timestamps"  # not one step apart
    assert field_of(json.dumps({"values": [r[1:] for r in rows]}).encode()) == "timestamps"
    with pytest.raises(BadInput, match=r"values\[11\] needs 2 columns \(temperature, load\), got 1"):
        predictor.predict(body([*rows[:11], [rows[11][0], 1.0]]), {})
    with pytest.raises(BadInput, match="expected a list of 12 timestamps"):
        predictor.predict(body(rows[:5]), {})


def test_other_runtimes_refuse_it_and_it_refuses_other_models(
    finished_runs: dict[str, FinishedRun], tmp_path: Path
) -> None:
    path = model_path(finished_runs["linear"])
    with pytest.raises(InvalidModel, match="forecast"):
        load_model(path, ai_module="m", version="1.0.0", counter=1)  # the built-in detect runtime
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "plain",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
    )
    plain = tmp_path / "plain.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), plain)
    with pytest.raises(ForecastModelError, match="not a forecast model"):
        ForecastPredictor(plain, ai_module="m", version="1.0.0", counter=1)
    (tmp_path / "junk.onnx").write_bytes(b"junk")
    with pytest.raises(ForecastModelError, match="onnxruntime cannot load it"):
        ForecastPredictor(tmp_path / "junk.onnx", ai_module="m", version="1.0.0", counter=1)


def test_the_edge_module_imports_neither_torch_nor_training_code() -> None:
    probe = (
        "import sys, modelyard.plugins.forecast.edge\n"
        "heavy = ('torch', 'sklearn', 'skl2onnx', 'matplotlib', 'onnx', 'modelyard.plugins.forecast.train',"
        " 'modelyard.plugins.forecast.windows', 'modelyard.plugins.forecast.series')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"
