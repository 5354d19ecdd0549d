"""Pre- and post-processing give what Ultralytics gives: checked against Ultralytics itself (a real YOLO11n export
and `YOLO(onnx).predict`, run in a child process) and, piece by piece, on hand-made arrays.

The parity is exact, not approximate: the same detections in the same order, boxes and confidences equal to the
float32 bit. It holds because every step follows Ultralytics' arithmetic (float32, the same rounding of the
letterbox, torchvision's stable score order, `scale_boxes`' per-axis gain) and the resize is OpenCV's INTER_LINEAR,
through cv2 when installed or its numpy re-implementation when not; both are checked here. The tolerances asserted
(1e-4 px, 1e-6 in confidence) only leave room for a different onnxruntime thread count on another machine.
"""

from __future__ import annotations

import importlib.util
import io
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnx
import pytest
from onnx import TensorProto, helper
from PIL import Image

from modelyard.edge import yolo
from modelyard.edge.models import InvalidModel, LoadedModel, load_model
from modelyard.edge.yolo import Detection, decode_image, letterbox, nms, postprocess, preprocess, resize_linear

from .conftest import IMGSZ, REFERENCE_CONF, REFERENCE_IOU, Reference

HAS_OPENCV = importlib.util.find_spec("cv2") is not None
BACKENDS = [
    pytest.param("opencv", marks=pytest.mark.skipif(not HAS_OPENCV, reason="OpenCV is not installed")),
    "numpy",
]


@pytest.fixture
def numpy_resize(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run as a device without OpenCV does: the numpy resize."""
    monkeypatch.setattr(yolo, "_opencv", lambda: None)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "numpy":
        monkeypatch.setattr(yolo, "_opencv", lambda: None)
    return str(request.param)


# --- against Ultralytics ------------------------------------------------------------------------------------------


def test_letterbox_gives_ultralytics_pixels_byte_for_byte(reference: Reference, backend: str) -> None:
    for name, path in reference.images.items():
        expected = np.load(reference.letterbox_dir / f"{path.stem}.npy")
        boxed, _, _ = letterbox(decode_image(path.read_bytes()), (IMGSZ, IMGSZ))
        assert boxed.shape == expected.shape, name
        assert np.array_equal(boxed, expected), f"{name}: {np.count_nonzero(boxed != expected)} pixels differ"


def test_infer_gives_the_detections_ultralytics_predict_gives(reference: Reference, backend: str) -> None:
    model = load_model(reference.model, ai_module="vehicles", version="1", counter=1)
    total = 0
    for name, path in reference.images.items():
        expected = reference.predictions[name]
        detections = model.infer(decode_image(path.read_bytes()), conf=REFERENCE_CONF, iou=REFERENCE_IOU)
        assert len(detections) == len(expected["boxes"]), name
        assert [d.class_id for d in detections] == expected["class_ids"], name
        assert [d.class_name for d in detections] == [("car", "bus", "truck")[c] for c in expected["class_ids"]]
        np.testing.assert_allclose([d.confidence for d in detections], expected["confidences"], rtol=0, atol=1e-6)
        np.testing.assert_allclose([d.box for d in detections], expected["boxes"], rtol=0, atol=1e-4)
        total += len(detections)
    assert total > 100  # the random model's boxes overlap and spread: NMS and scaling did real work


def test_detections_are_sorted_by_confidence_and_inside_the_image(reference: Reference) -> None:
    model = load_model(reference.model, ai_module="vehicles", version="1", counter=1)
    path = reference.images["tall.png"]
    detections = model.infer(decode_image(path.read_bytes()), conf=0.05)
    confidences = [d.confidence for d in detections]
    assert detections and confidences == sorted(confidences, reverse=True) and min(confidences) > 0.05
    assert all(0 <= x1 <= x2 <= 90 and 0 <= y1 <= y2 <= 200 for x1, y1, x2, y2 in (d.box for d in detections))


def test_model_reads_ultralytics_metadata(model_path: Path) -> None:
    model = load_model(model_path, ai_module="vehicles", version="2.1.0", counter=7)
    info = model.info
    assert (info.ai_module, info.version, info.counter, info.task) == ("vehicles", "2.1.0", 7, "detect")
    assert info.class_names == ("car", "bus", "truck")
    assert info.imgsz == (IMGSZ, IMGSZ)
    assert info.path == model_path and info.loaded_at.tzinfo is not None


# --- resize -------------------------------------------------------------------------------------------------------


@pytest.mark.skipif(not HAS_OPENCV, reason="OpenCV is not installed")
def test_numpy_resize_is_bit_exact_with_opencv_inter_linear() -> None:
    import cv2

    rng = np.random.default_rng(0)
    sizes = [((int(rng.integers(2, 500)), int(rng.integers(2, 500))), None) for _ in range(150)]
    shapes = [(src, (int(rng.integers(1, 300)), int(rng.integers(1, 300)))) for src, _ in sizes]
    shapes += [((640, 480), (320, 240)), ((1920, 1080), (640, 360)), ((37, 11), (128, 38)), ((5, 3), (1, 1))]
    for (src_w, src_h), size in shapes:
        image = rng.integers(0, 256, (src_h, src_w, 3), dtype=np.uint8)
        expected = cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)
        assert np.array_equal(resize_linear(image, size), expected), ((src_w, src_h), size)


# --- letterbox on hand-made images --------------------------------------------------------------------------------


@pytest.mark.usefixtures("numpy_resize")
def test_letterbox_reduces_keeping_aspect_and_pads_evenly() -> None:
    image = np.full((50, 100, 3), 7, dtype=np.uint8)  # h=50, w=100
    boxed, ratio, pad = letterbox(image, (64, 64))
    assert boxed.shape == (64, 64, 3) and ratio == 0.64 and pad == (0.0, 16.0)
    assert (boxed[16:48] == 7).all()  # 100x50 * 0.64 = 64x32, centred
    assert (boxed[:16] == 114).all() and (boxed[48:] == 114).all()


def test_letterbox_puts_the_odd_pixel_of_padding_at_the_bottom() -> None:
    image = np.zeros((31, 64, 3), dtype=np.uint8)  # ratio 1: 33 rows of padding, as round(16.4), round(16.6)
    boxed, ratio, pad = letterbox(image, (64, 64), color=200)
    assert ratio == 1.0 and pad == (0.0, 16.0)
    assert (boxed[:16] == 200).all() and (boxed[16:47] == 0).all() and (boxed[47:] == 200).all()


@pytest.mark.usefixtures("numpy_resize")
def test_letterbox_enlarges_small_images() -> None:
    image = np.full((10, 20, 3), 50, dtype=np.uint8)
    boxed, ratio, pad = letterbox(image, (64, 64))
    assert ratio == 3.2 and pad == (0.0, 16.0)
    assert (boxed[16:48] == 50).all() and (boxed[:16] == 114).all()


def test_letterbox_refuses_what_is_not_an_rgb_uint8_image() -> None:
    with pytest.raises(ValueError, match="uint8"):
        letterbox(np.zeros((8, 8, 3), dtype=np.float32), (64, 64))
    with pytest.raises(ValueError, match="H, W, 3"):
        letterbox(np.zeros((8, 8), dtype=np.uint8), (64, 64))


def test_preprocess_is_chw_float32_in_unit_range() -> None:
    image = np.zeros((64, 64, 3), dtype=np.uint8)
    image[..., 0] = 255
    tensor, ratio, pad = preprocess(image, (64, 64))
    assert tensor.shape == (1, 3, 64, 64) and tensor.dtype == np.float32
    assert (tensor[0, 0] == 1.0).all() and (tensor[0, 1:] == 0.0).all() and ratio == 1.0 and pad == (0.0, 0.0)


# --- NMS and post-processing on hand-made arrays ------------------------------------------------------------------


def _f32(rows: list[list[float]]) -> npt.NDArray[np.float32]:
    return np.asarray(rows, dtype=np.float32)


def test_nms_keeps_the_best_of_overlapping_boxes() -> None:
    boxes = _f32([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]])
    assert nms(boxes, _f32([[0.8, 0.9, 0.5]])[0], 0.5).tolist() == [1, 2]


def test_nms_suppresses_only_above_the_threshold() -> None:
    boxes = _f32([[0, 0, 10, 10], [0, 0, 10, 5]])  # IoU exactly 0.5
    scores = _f32([[0.9, 0.8]])[0]
    assert nms(boxes, scores, 0.5).tolist() == [0, 1]
    assert nms(boxes, scores, 0.49).tolist() == [0]


def test_nms_breaks_ties_by_input_order_and_ignores_empty_boxes() -> None:
    boxes = _f32([[0, 0, 10, 10], [0, 0, 10, 10], [5, 5, 5, 5], [5, 5, 5, 5]])  # two zero-area boxes: IoU NaN
    assert nms(boxes, _f32([[0.5, 0.5, 0.5, 0.5]])[0], 0.5).tolist() == [0, 2, 3]


def test_nms_gives_the_same_answer_for_few_and_for_many_candidates(monkeypatch: pytest.MonkeyPatch) -> None:
    """Up to 1024 candidates NMS works on the full IoU matrix, beyond that row by row: same greedy result."""
    rng = np.random.default_rng(1)
    cases = []
    for _ in range(100):
        n = int(rng.integers(1, 300))
        corner = rng.uniform(0, 100, (n, 2))
        size = rng.uniform(0, 40, (n, 2)) * (rng.random((n, 1)) > 0.1)  # some empty boxes
        boxes = np.concatenate([corner, corner + size], axis=1).astype(np.float32)
        scores = rng.choice(np.linspace(0.05, 1, 12), n).astype(np.float32)  # many ties
        cases.append((boxes, scores, float(rng.choice([0.3, 0.45, 0.5, 0.7]))))
    matrix = [nms(*case).tolist() for case in cases]
    monkeypatch.setattr(yolo, "_NMS_MATRIX_MAX", 0)
    assert [nms(*case).tolist() for case in cases] == matrix


def _head_output(rows: list[list[float]]) -> npt.NDArray[np.float32]:
    """(1, 4 + nc, N) from one row per box: cx, cy, w, h, score per class."""
    return np.asarray(rows, dtype=np.float32).T[None]


def test_postprocess_is_class_aware_and_sorted() -> None:
    output = _head_output(
        [
            [32, 32, 20, 20, 0.9, 0.1],  # class 0
            [33, 33, 20, 20, 0.2, 0.8],  # class 1: same place, survives (another class)
            [33, 32, 20, 20, 0.7, 0.0],  # class 0: suppressed by the first
            [10, 10, 4, 4, 0.3, 0.05],  # class 0, elsewhere
            [50, 50, 4, 4, 0.25, 0.2],  # best score 0.25 is not > conf 0.25: dropped
        ]
    )
    found = postprocess(
        output, conf=0.25, iou=0.5, ratio=1.0, pad=(0.0, 0.0), orig_shape=(64, 64), class_names=["a", "b"]
    )
    assert [(d.class_id, d.class_name, round(d.confidence, 3)) for d in found] == [
        (0, "a", 0.9),
        (1, "b", 0.8),
        (0, "a", 0.3),
    ]
    assert found[0].box == (22.0, 22.0, 42.0, 42.0)


def test_postprocess_maps_boxes_back_to_the_original_image_and_clips() -> None:
    # original 100x50 (w x h) letterboxed into 64x64: ratio 0.64, image at rows 16..48
    output = _head_output([[32, 32, 32, 16, 0.9], [60, 20, 16, 16, 0.8]])
    found = postprocess(
        output, conf=0.1, iou=0.7, ratio=0.64, pad=(0.0, 16.0), orig_shape=(50, 100), class_names=["thing"]
    )
    assert found[0].box == pytest.approx((25.0, 12.5, 75.0, 37.5))
    assert found[1].box == pytest.approx((81.25, 0.0, 100.0, 18.75))  # x2 and y1 clipped to the image


def test_postprocess_limits_detections_and_names_unknown_classes() -> None:
    output = _head_output([[10 + 12 * i, 10, 8, 8, 0.0, 0.0, 0.5 + i / 100] for i in range(5)])
    found = postprocess(
        output, conf=0.1, iou=0.5, ratio=1.0, pad=(0.0, 0.0), orig_shape=(64, 64), class_names=["a"], max_det=3
    )
    assert [d.class_name for d in found] == ["2", "2", "2"]
    assert [d.confidence for d in found] == pytest.approx([0.54, 0.53, 0.52])


def test_postprocess_of_nothing_is_nothing() -> None:
    output = _head_output([[10, 10, 8, 8, 0.01]])
    assert postprocess(output, conf=0.25, iou=0.7, ratio=1, pad=(0, 0), orig_shape=(9, 9), class_names=["a"]) == []
    with pytest.raises(ValueError, match="shape"):
        postprocess(
            np.zeros((7, 4), np.float32), conf=0.1, iou=0.7, ratio=1, pad=(0, 0), orig_shape=(9, 9), class_names=[]
        )


def test_detection_is_a_frozen_value() -> None:
    detection = Detection(class_id=1, class_name="bus", confidence=0.5, box=(1.0, 2.0, 3.0, 4.0))
    with pytest.raises(AttributeError):
        detection.confidence = 0.9  # type: ignore[misc]


# --- decoding -----------------------------------------------------------------------------------------------------


def _encoded(image: Image.Image, fmt: str, **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **params)
    return out.getvalue()


def test_decode_image_gives_rgb_for_any_mode() -> None:
    for mode, fmt in (("L", "PNG"), ("RGBA", "PNG"), ("P", "GIF"), ("RGB", "JPEG"), ("RGB", "WEBP")):
        decoded = decode_image(_encoded(Image.new(mode, (7, 5)), fmt))
        assert decoded.shape == (5, 7, 3) and decoded.dtype == np.uint8, mode


def test_decode_image_applies_exif_orientation_as_opencv_does() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    data = _encoded(Image.new("RGB", (40, 20), (255, 0, 0)), "JPEG", exif=exif.tobytes())
    assert decode_image(data).shape == (40, 20, 3)


@pytest.mark.parametrize("data", [b"", b"hello, not an image", _encoded(Image.new("RGB", (64, 64)), "PNG")[:60]])
def test_decode_image_refuses_what_is_not_an_image(data: bytes) -> None:
    with pytest.raises(ValueError, match="image"):
        decode_image(data)


# --- models that must be refused ----------------------------------------------------------------------------------


def _constant_model(path: Path, output: npt.NDArray[np.float32], metadata: dict[str, str]) -> Path:
    """An ONNX model that ignores its 1x3x32x32 input and always returns `output`."""
    node = helper.make_node(
        "Constant", [], ["output0"], value=helper.make_tensor("v", TensorProto.FLOAT, output.shape, output.ravel())
    )
    graph = helper.make_graph(
        [node],
        "constant",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 32, 32])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, list(output.shape))],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.helper.set_model_props(model, metadata)
    onnx.save(model, path)
    return path


def test_a_model_with_non_finite_output_fails_its_health_check(tmp_path: Path) -> None:
    output = np.full((1, 6, 4), np.nan, dtype=np.float32)
    path = _constant_model(tmp_path / "nan.onnx", output, {"names": "{0: 'a', 1: 'b'}", "task": "detect"})
    with pytest.raises(InvalidModel, match="not finite"):
        load_model(path, ai_module="m", version="1", counter=1)


def test_models_that_are_not_ultralytics_detect_exports_are_refused(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"not a model")
    with pytest.raises(InvalidModel, match="onnxruntime cannot load it"):
        LoadedModel(garbage, ai_module="m", version="1", counter=1)
    output = np.zeros((1, 6, 4), dtype=np.float32)
    segment = _constant_model(tmp_path / "seg.onnx", output, {"task": "segment"})
    with pytest.raises(InvalidModel, match="detect only"):
        LoadedModel(segment, ai_module="m", version="1", counter=1)
    end2end = _constant_model(tmp_path / "e2e.onnx", np.zeros((1, 300, 6), np.float32), {"end2end": "True"})
    with pytest.raises(InvalidModel, match="end-to-end"):
        LoadedModel(end2end, ai_module="m", version="1", counter=1)
    mismatch = _constant_model(tmp_path / "names.onnx", output, {"names": "{0: 'a', 1: 'b', 2: 'c'}"})
    with pytest.raises(InvalidModel, match="names 3 classes"):
        LoadedModel(mismatch, ai_module="m", version="1", counter=1)


def test_a_model_without_names_gets_numbered_classes(tmp_path: Path) -> None:
    path = _constant_model(tmp_path / "plain.onnx", np.zeros((1, 6, 4), np.float32), {})
    model = load_model(path, ai_module="m", version="1", counter=1)
    assert model.info.class_names == ("0", "1") and model.info.imgsz == (32, 32) and model.info.task == "detect"
