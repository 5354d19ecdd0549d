"""The network, its optimiser and schedule, and the ONNX export: the exported model and the edge runtime rate real
frames as the torch model does (parity within 1e-5), and carry the metadata the edge checks."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from modelyard.plugins.regress import edge, fit, preprocess
from modelyard.plugins.regress.data import read_dataset
from modelyard.plugins.regress.export import OPSET, export_onnx
from modelyard.plugins.regress.model import (
    RatingNet,
    build_loss,
    build_model,
    build_optimizer,
    build_scheduler,
    torch_device,
)
from modelyard.plugins.regress.presets import PRESET
from modelyard.plugins.regress.train import resolved_config

from .conftest import job_spec

PARITY_ATOL = 1e-5  # ONNX Runtime vs torch on CPU, float32; measured differences are around 1e-7


def _config(**overrides: Any) -> dict[str, Any]:
    return resolved_config(job_spec(Path("unused"), Path("unused"), **overrides))


def _trained_model(dataset: Path, imgsz: int) -> RatingNet:
    """A RatingNet after a few steps on real frames, so batch-norm statistics and weights are not their defaults."""
    torch.manual_seed(0)
    config = _config(imgsz=imgsz)
    model = build_model(config)
    optimizer, loss_fn = build_optimizer(model, config), build_loss(config)
    samples = read_dataset(dataset).train.samples
    images = torch.stack([torch.from_numpy(preprocess.prepare(preprocess.load(s.path), imgsz)) for s in samples])
    targets = torch.tensor([s.target for s in samples])
    model.train()
    for _ in range(5):
        optimizer.zero_grad()
        loss_fn(model(images).squeeze(1), targets).backward()
        optimizer.step()
    model.eval()
    return model


@pytest.mark.parametrize(("imgsz", "width"), [(32, 4), (64, 16), (96, 8)])
def test_the_network_rates_a_batch_in_zero_to_one(imgsz: int, width: int) -> None:
    model = RatingNet(width=width, dropout=0.2).eval()
    with torch.no_grad():
        out = model(torch.randn(5, 3, imgsz, imgsz) * 10)
    assert out.shape == (5, 1)
    assert bool(((out >= 0) & (out <= 1)).all())


@pytest.mark.parametrize(
    ("name", "kind"), [("adam", torch.optim.Adam), ("adamw", torch.optim.AdamW), ("sgd", torch.optim.SGD)]
)
def test_each_optimizer_choice_builds_that_optimizer_with_the_configured_settings(name: str, kind: Any) -> None:
    optimizer = build_optimizer(RatingNet(4), _config(optimizer=name, lr=0.02, weight_decay=0.01, momentum=0.8))
    assert type(optimizer) is kind
    group = optimizer.param_groups[0]
    assert (group["lr"], group["weight_decay"]) == (0.02, 0.01)
    assert group.get("momentum", group.get("betas", (None,))[0]) == 0.8


def test_the_learning_rate_decays_by_cosine_from_lr_to_lr_times_lrf() -> None:
    config = _config(epochs=5, lr=0.1, lrf=0.2)
    optimizer = build_optimizer(RatingNet(4), config)
    scheduler = build_scheduler(optimizer, config)
    rates = []
    for _ in range(5):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    expected = [0.02 + 0.08 * 0.5 * (1 + math.cos(math.pi * e / 4)) for e in range(5)]
    assert rates == pytest.approx(expected)
    assert rates[0] == pytest.approx(0.1) and rates[-1] == pytest.approx(0.02)


def test_the_losses_and_devices_are_what_their_names_say() -> None:
    predicted, target = torch.tensor([0.2, 0.9]), torch.tensor([0.4, 0.4])
    assert float(build_loss(_config(loss="mse"))(predicted, target)) == pytest.approx((0.04 + 0.25) / 2)
    assert float(build_loss(_config(loss="l1"))(predicted, target)) == pytest.approx((0.2 + 0.5) / 2)
    huber = float(build_loss(_config(loss="huber"))(predicted, target))  # delta 0.1: linear past 0.1
    assert huber == pytest.approx(((0.2 - 0.05) * 0.1 + (0.5 - 0.05) * 0.1) / 2)
    assert torch_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="unknown device"):
        torch_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="no CUDA GPU"):
            torch_device("cuda:0")


def test_every_preset_field_is_used_by_the_config_the_child_builds() -> None:
    assert set(_config()) == {spec.name for spec in PRESET.fields}


@pytest.mark.parametrize("imgsz", [32, 64])
def test_onnx_export_rates_real_frames_as_the_torch_model_does(dataset: Path, tmp_path: Path, imgsz: int) -> None:
    model = _trained_model(dataset, imgsz)
    path = export_onnx(model, imgsz, tmp_path / "model.onnx", {"framework_version": "test"})

    proto = onnx.load(str(path))
    assert proto.opset_import[0].version == OPSET
    metadata = {p.key: p.value for p in proto.metadata_props}
    assert metadata["task"] == "regress" and json.loads(metadata["imgsz"]) == [imgsz, imgsz]
    assert metadata["preprocess"] == preprocess.PREPROCESS_ID and metadata["framework_version"] == "test"

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (model_input,) = session.get_inputs()
    assert model_input.shape == [1, 3, imgsz, imgsz]
    frames = read_dataset(dataset).val.samples
    worst = 0.0
    for sample in frames:
        prepared = preprocess.prepare(preprocess.load(sample.path), imgsz)
        with torch.no_grad():
            expected = float(model(torch.from_numpy(prepared)[None]).reshape(()))
        (got,) = session.run(None, {model_input.name: prepared[None]})
        assert got.shape == (1, 1)
        worst = max(worst, abs(float(got.reshape(())) - expected))
    assert worst <= PARITY_ATOL, worst


def test_the_edge_runtime_scores_image_bytes_as_training_would(dataset: Path, tmp_path: Path) -> None:
    """Request bytes → shared preprocessing → ONNX on the edge equals file → shared preprocessing → torch."""
    model = _trained_model(dataset, 32)
    path = export_onnx(model, 32, tmp_path / "model.onnx")
    predictor = edge.load(path, ai_module="frames", version="1.2.0", counter=4)
    info = predictor.info
    assert (info.ai_module, info.version, info.counter, info.task) == ("frames", "1.2.0", 4, "regress")
    assert (info.class_names, info.imgsz, info.path) == ((), (32, 32), path)
    scores = []
    for sample in read_dataset(dataset).val.samples:
        with torch.no_grad():
            prepared = torch.from_numpy(preprocess.prepare(preprocess.load(sample.path), 32))[None]
            expected = float(model(prepared).reshape(()))
        answer = predictor.predict(sample.path.read_bytes(), {"conf": "0.25"})  # a detector's parameter: ignored
        assert set(answer) == {"score"}
        assert answer["score"] == pytest.approx(expected, abs=PARITY_ATOL)
        scores.append(answer["score"])
    assert all(0.0 <= s <= 1.0 for s in scores) and len(set(scores)) > 1
    predictor.health_check()


def test_a_model_export_is_atomic_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    path = export_onnx(RatingNet(4), 32, tmp_path / "out" / "model.onnx")
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.onnx"]
    assert np.isfinite(edge.load(path, ai_module="m", version="0.1.0", counter=1).score(preprocess.blank(32)))


def test_frames_decoded_on_worker_threads_per_batch_equal_the_preloaded_ones(
    dataset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    samples = read_dataset(dataset).train.samples
    preloaded = fit.Frames(samples, 32)
    monkeypatch.setattr(fit, "PRELOAD_LIMIT_BYTES", 0)  # too large to keep: decoded per batch, on 2 threads
    lazy = fit.Frames(samples, 32, workers=2)
    try:
        for (a, ta), (b, tb) in zip(
            preloaded.batches(5, torch.Generator().manual_seed(1)),
            lazy.batches(5, torch.Generator().manual_seed(1)),
            strict=True,
        ):
            assert torch.equal(a, b) and torch.equal(ta, tb)
        seen = torch.cat([t for _, t in preloaded.batches(7, torch.Generator().manual_seed(2))])
        assert sorted(seen.tolist()) == pytest.approx(sorted(s.target for s in samples))  # each frame once
    finally:
        lazy.close()


def test_flips_mirror_exactly_the_frames_they_draw() -> None:
    images = torch.arange(2 * 3 * 4 * 4, dtype=torch.float32).reshape(2, 3, 4, 4)
    assert torch.equal(fit._flip(images.clone(), 0.0, 0.0, torch.Generator()), images)
    assert torch.equal(fit._flip(images.clone(), 1.0, 0.0, torch.Generator()), images.flip(-1))
    assert torch.equal(fit._flip(images.clone(), 0.0, 1.0, torch.Generator()), images.flip(-2))
