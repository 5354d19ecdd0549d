"""The classifiers' shapes, and the ONNX export: same outputs as torch (parity), dynamic batch, metadata that the edge
reads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modelyard.plugins.audio.features import FeatureParams

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")

from modelyard.plugins.audio.export import export_onnx  # noqa: E402  (needs torch and onnx)
from modelyard.plugins.audio.model import ARCHITECTURES, WithProbabilities, build_model  # noqa: E402

PARAMS = FeatureParams(sample_rate=8000, n_fft=512, hop_length=128, n_mels=40, duration_s=0.5)
PARITY_ATOL = 1e-4  # float32 through two runtimes; measured differences are around 1e-6


@pytest.mark.parametrize("architecture", ARCHITECTURES)
@pytest.mark.parametrize("size", [(8, 2), (40, 32), (128, 32), (64, 101)])
def test_every_architecture_maps_log_mels_of_its_bands_and_any_length_to_class_logits(
    architecture: str, size: tuple[int, int]
) -> None:
    n_mels, frames = size
    model = build_model(architecture, classes=5, n_mels=n_mels, dropout=0.3)
    model.train()
    assert model(torch.randn(4, 1, n_mels, frames)).shape == (4, 5)
    model.eval()
    assert model(torch.randn(1, 1, n_mels, frames)).shape == (1, 5)
    assert model(torch.randn(2, 1, n_mels, frames + 7)).shape == (2, 5)  # a longer clip: pooled over time


def test_the_classifier_sees_which_band_a_sound_is_in() -> None:
    """The same bright line in another band must be able to give another answer: no global pooling over frequency.
    Two lines, far apart, on an otherwise silent image get different logits from an untrained model."""
    for architecture in ARCHITECTURES:
        torch.manual_seed(0)
        model = build_model(architecture, classes=3, n_mels=40, dropout=0.0).eval()
        low, high = torch.full((1, 1, 40, 32), -80.0), torch.full((1, 1, 40, 32), -80.0)
        low[0, 0, 5, :], high[0, 0, 30, :] = 0.0, 0.0
        with torch.no_grad():
            assert not torch.allclose(model(low), model(high), atol=1e-4), architecture


def test_unknown_architecture_and_no_classes_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown model_architecture 'convnext_large'"):
        build_model("convnext_large", 3, 40, 0.1)
    with pytest.raises(ValueError, match="at least one class"):
        build_model("cnn_small", 0, 40, 0.1)


def _trained_a_little(architecture: str) -> Any:
    """A few optimiser steps, so that the weights are not at their initial values."""
    torch.manual_seed(0)
    model = build_model(architecture, classes=3, n_mels=PARAMS.n_mels, dropout=0.2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.01)
    x, y = torch.rand(16, 1, *PARAMS.shape) * -80, torch.randint(0, 3, (16,))
    model.train()
    for _ in range(5):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    return model.eval()


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_onnx_outputs_equal_torch_outputs(architecture: str, tmp_path: Path) -> None:
    model = _trained_a_little(architecture)
    path = export_onnx(model, PARAMS, ["low", "mid", "high"], architecture, tmp_path / "model.onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    batch = np.random.default_rng(3).uniform(-80, 0, (5, 1, *PARAMS.shape)).astype(np.float32)
    logits, probabilities = session.run(["logits", "probabilities"], {"log_mel": batch})
    with torch.no_grad():
        want_logits, want_probabilities = WithProbabilities(model)(torch.from_numpy(batch))
    logit_error = float(np.abs(logits - want_logits.numpy()).max())
    probability_error = float(np.abs(probabilities - want_probabilities.numpy()).max())
    measured = f"{architecture}: max |onnx - torch| logits {logit_error:.2e}, probabilities {probability_error:.2e}"
    assert logit_error < PARITY_ATOL and probability_error < PARITY_ATOL, measured
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    # One clip at a time gives the same answers: the batch axis is dynamic and no norm mixes clips of a batch.
    single = session.run(["logits"], {"log_mel": batch[2:3]})[0]
    np.testing.assert_allclose(single[0], logits[2], atol=PARITY_ATOL)


def test_the_export_carries_task_class_names_and_feature_parameters(tmp_path: Path) -> None:
    path = export_onnx(_trained_a_little("cnn_small"), PARAMS, ["low", "mid", "high"], "cnn_small", tmp_path / "m.onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    meta = session.get_modelmeta().custom_metadata_map
    assert meta["task"] == "audio_classify" and meta["architecture"] == "cnn_small"
    assert json.loads(meta["names"]) == ["low", "mid", "high"]
    assert FeatureParams.from_metadata(meta["features"]) == PARAMS
    (model_input,) = session.get_inputs()
    assert (model_input.name, model_input.shape[1:]) == ("log_mel", [1, 40, 32])
    assert [o.name for o in session.get_outputs()] == ["logits", "probabilities"]
