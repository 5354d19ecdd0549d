"""The edge runtime: it loads only regress models made with its preprocessing, refuses bad input with the field,
fails the health check of a model that does not rate in 0..1, and never imports torch or the training code."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper
from PIL import Image

from modelyard.edge.models import InvalidModel
from modelyard.edge.runtimes import BadInput, Predictor
from modelyard.edge.runtimes import load as load_runtime
from modelyard.plugins.regress import edge
from modelyard.plugins.regress.export import export_onnx
from modelyard.plugins.regress.model import RatingNet
from modelyard.plugins.regress.preprocess import PREPROCESS_ID


def _graph_model(
    path: Path, *, shape: list[int | str], metadata: dict[str, str], value: float = 0.5, outputs: int = 1
) -> Path:
    """A hand-made ONNX model: ReduceMean over the input, times 0, plus `value` (a constant rating)."""
    zero = helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0])
    constant = helper.make_tensor("constant", TensorProto.FLOAT, [], [value])
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["mean"], axes=[1, 2, 3], keepdims=0),
        helper.make_node("Mul", ["mean", "zero"], ["nothing"]),
        helper.make_node("Add", ["nothing", "constant"], ["flat"]),
        helper.make_node("Unsqueeze", ["flat", "axis"], ["score"]),
    ]
    axis = helper.make_tensor("axis", TensorProto.INT64, [1], [1])
    outs = [helper.make_tensor_value_info("score", TensorProto.FLOAT, [1, 1])]
    if outputs == 2:
        nodes.append(helper.make_node("Identity", ["score"], ["again"]))
        outs.append(helper.make_tensor_value_info("again", TensorProto.FLOAT, [1, 1]))
    graph = helper.make_graph(
        nodes,
        "constant-rating",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, shape)],
        outs,
        [zero, constant, axis],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    for key, text in metadata.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, text
    onnx.save(model, str(path))
    return path


GOOD = {"task": "regress", "imgsz": "[32, 32]", "preprocess": PREPROCESS_ID}


def _load(path: Path) -> edge.RegressPredictor:
    return edge.load(path, ai_module="frames", version="0.1.0", counter=1)


def test_the_agent_finds_this_runtime_for_task_regress(tmp_path: Path) -> None:
    path = export_onnx(RatingNet(4), 32, tmp_path / "model.onnx")
    predictor = load_runtime("regress", path, ai_module="frames", version="0.3.0", counter=7)
    assert isinstance(predictor, Predictor) and isinstance(predictor, edge.RegressPredictor)
    assert predictor.info.counter == 7


@pytest.mark.parametrize(
    ("shape", "metadata", "reason"),
    [
        ([1, 3, 32, 32], GOOD | {"task": "detect"}, "task 'detect'"),
        ([1, 3, 32, 32], {"imgsz": "[32, 32]", "preprocess": PREPROCESS_ID}, "task None"),
        ([1, 3, 32, 32], GOOD | {"preprocess": "letterbox-v0"}, "trained with preprocessing 'letterbox-v0'"),
        (["n", 3, 32, 32], GOOD, "static 1x3xHxW input"),
        ([1, 3, 32, 48], GOOD, "square input"),
        ([1, 3, 32, 32], GOOD | {"imgsz": "[64, 64]"}, "does not match the input shape"),
        ([1, 3, 32, 32], GOOD | {"imgsz": "big"}, "is not JSON"),
    ],
)
def test_a_model_this_runtime_cannot_serve_is_refused_with_the_reason(
    tmp_path: Path, shape: list[int | str], metadata: dict[str, str], reason: str
) -> None:
    with pytest.raises(InvalidModel, match=reason.replace("[", r"\[").replace("(", r"\(")):
        _load(_graph_model(tmp_path / "model.onnx", shape=shape, metadata=metadata))


def test_a_file_that_is_not_onnx_or_has_two_outputs_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    with pytest.raises(InvalidModel, match="onnxruntime cannot load it"):
        _load(junk)
    with pytest.raises(InvalidModel, match="one input and one output, got 1 and 2"):
        _load(_graph_model(tmp_path / "two.onnx", shape=[1, 3, 32, 32], metadata=GOOD, outputs=2))


@pytest.mark.parametrize("value", [1.5, -0.1, float("nan")])
def test_a_model_that_does_not_rate_in_zero_to_one_fails_its_health_check(tmp_path: Path, value: float) -> None:
    path = _graph_model(tmp_path / "model.onnx", shape=[1, 3, 32, 32], metadata=GOOD, value=value)
    with pytest.raises(InvalidModel, match="health check: a black frame scored"):
        _load(path)


def test_a_constant_model_answers_its_constant(tmp_path: Path) -> None:
    predictor = _load(_graph_model(tmp_path / "model.onnx", shape=[1, 3, 32, 32], metadata=GOOD, value=0.25))
    frame = io.BytesIO()
    Image.new("RGB", (300, 200), (10, 200, 30)).save(frame, format="JPEG")
    assert predictor.predict(frame.getvalue(), {}) == {"score": 0.25}


@pytest.mark.parametrize(("body", "message"), [(b"", "no bytes"), (b"\x89PNG\r\n\x1a\nbroken", "not an image")])
def test_a_body_that_is_not_an_image_is_bad_input_naming_the_body(tmp_path: Path, body: bytes, message: str) -> None:
    predictor = _load(_graph_model(tmp_path / "model.onnx", shape=[1, 3, 32, 32], metadata=GOOD))
    with pytest.raises(BadInput, match=message) as refused:
        predictor.predict(body, {})
    assert refused.value.field == "body"


def test_the_edge_module_imports_neither_torch_nor_the_training_code() -> None:
    probe = (
        "import sys, modelyard.plugins.regress.edge; "
        "bad = sorted(m for m in sys.modules if m == 'torch' or m.startswith(('torch.', 'onnx.')) "
        "or m in ('onnx', 'modelyard.plugins.regress.fit', 'modelyard.plugins.regress.model', "
        "'modelyard.plugins.regress.train', 'modelyard.plugins.regress.export')); print(bad)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]", done.stdout
