"""The edge runtime: a trained model's ONNX export loaded through the agent's runtime registry answers a WAV with the
tone's class; what it cannot take is a BadInput naming the body; a model it cannot serve is an InvalidModel."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import onnx
import pytest

from modelyard.edge import runtimes
from modelyard.edge.models import InvalidModel
from modelyard.edge.runtimes import BadInput
from modelyard.frameworks.cancel import CancelSwitch
from modelyard.frameworks.protocol import EventWriter
from modelyard.plugins.audio import train
from modelyard.plugins.audio.edge import AudioPredictor

from .conftest import CLASSES, RATE, TONES, job_spec, tone, wav_bytes


@pytest.fixture(scope="module")
def model_path(dataset_yaml: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model trained (in this process) for 6 epochs on the tone dataset, as the child exports it."""
    workdir = tmp_path_factory.mktemp("edge-train")
    events = io.StringIO()
    train.run(job_spec(dataset_yaml, workdir, epochs=6), EventWriter(events), CancelSwitch(), train.Progress())
    assert '"type":"completed"' in events.getvalue()
    return workdir / train.WEIGHTS / train.ONNX_NAME


def _load(path: Path) -> AudioPredictor:
    predictor = runtimes.load("audio_classify", path, ai_module="yard", version="1.2.0", counter=3)
    assert isinstance(predictor, AudioPredictor)
    return predictor


def test_the_agent_loads_it_by_task_and_it_names_each_tones_class(model_path: Path) -> None:
    predictor = _load(model_path)
    assert isinstance(predictor, runtimes.Predictor)
    info = predictor.info
    assert (info.ai_module, info.version, info.counter, info.task) == ("yard", "1.2.0", 3, "audio_classify")
    assert info.class_names == CLASSES and info.imgsz == (0, 0) and info.path == model_path
    predictor.health_check()
    for class_id, name in enumerate(CLASSES):
        answer = predictor.predict(wav_bytes(tone(TONES[name], noise=0.02, seed=99)), {})
        assert set(answer) == {"class_id", "class_name", "confidence", "probabilities"}
        assert (answer["class_id"], answer["class_name"]) == (class_id, name), answer
        assert list(answer["probabilities"]) == list(CLASSES)
        assert sum(answer["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
        assert answer["confidence"] == max(answer["probabilities"].values()) > 0.5


def test_stereo_24_bit_softer_shorter_and_longer_clips_are_taken(model_path: Path) -> None:
    predictor = _load(model_path)
    stereo = wav_bytes(tone(TONES["high"], seconds=1.3, noise=0.02, seed=5), channels=2, width=3)
    assert predictor.predict(stereo, {})["class_name"] == "high"
    # A longer clip is judged on its middle 0.5 s, as in training; a shorter one is padded with silence.
    longer = wav_bytes(tone(TONES["low"], seconds=2.0, noise=0.02, seed=6))
    assert predictor.predict(longer, {})["class_name"] == "low"
    shorter = wav_bytes(tone(TONES["mid"], seconds=0.3, noise=0.02, seed=7))
    assert predictor.predict(shorter, {})["class_name"] == "mid"
    soft_and_clean = wav_bytes(tone(TONES["low"], level=0.05))  # features are relative to the clip's peak
    assert predictor.predict(soft_and_clean, {})["class_name"] == "low"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "the body is empty"),
        (b"\xff\xd8\xff\xe0 a jpeg", "not a PCM WAV file"),
        (wav_bytes(np.zeros(100))[:-20], "truncated"),
    ],
)
def test_a_body_that_is_not_a_pcm_wav_is_bad_input(model_path: Path, body: bytes, message: str) -> None:
    with pytest.raises(BadInput) as caught:
        _load(model_path).predict(body, {})
    assert caught.value.field == "body"
    assert message in str(caught.value) and f"send a PCM WAV file at {RATE} Hz" in str(caught.value)


def test_a_clip_at_another_sample_rate_is_refused_naming_the_expected_rate(model_path: Path) -> None:
    with pytest.raises(BadInput) as caught:
        _load(model_path).predict(wav_bytes(tone(500.0, rate=16000), rate=16000), {})
    assert caught.value.field == "body"
    assert str(caught.value) == (
        "the clip is sampled at 16000 Hz but this model expects 8000 Hz audio; resample it to 8000 Hz"
        " (clips are never resampled here)"
    )


def _with_metadata(source: Path, target: Path, **changes: str | None) -> Path:
    model = onnx.load(str(source))
    kept = {p.key: p.value for p in model.metadata_props}
    for key, value in changes.items():
        if value is None:
            kept.pop(key, None)
        else:
            kept[key] = value
    del model.metadata_props[:]
    for key, value in kept.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(target))
    return target


def test_a_model_the_runtime_cannot_serve_is_invalid(model_path: Path, tmp_path: Path) -> None:
    cases: dict[str, tuple[dict[str, str | None], str]] = {
        "detect.onnx": ({"task": "detect"}, "task 'detect' in the model's metadata"),
        "nofeatures.onnx": ({"features": None}, "unusable metadata"),
        "oldfeatures.onnx": ({"features": '{"version": 0}'}, "features version 0"),
        "nonames.onnx": ({"names": "[]"}, "non-empty list of class names"),
        "othershape.onnx": (
            {"features": model_path_features(model_path).replace('"n_mels": 40', '"n_mels": 64')},
            "input shape",
        ),
    }
    for name, (changes, reason) in cases.items():
        with pytest.raises(InvalidModel, match=reason):
            _load(_with_metadata(model_path, tmp_path / name, **changes))
    (tmp_path / "garbage.onnx").write_bytes(b"not a model")
    with pytest.raises(InvalidModel, match="onnxruntime cannot load it"):
        _load(tmp_path / "garbage.onnx")


def model_path_features(path: Path) -> str:
    return str(next(p.value for p in onnx.load(str(path)).metadata_props if p.key == "features"))
