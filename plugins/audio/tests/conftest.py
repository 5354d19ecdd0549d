"""Tones as WAV bytes, tiny audio datasets in the trainer's layout, and a runner for the training child."""

from __future__ import annotations

import io
import wave
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modelyard.frameworks.childrun import ChildRun, child_env, launch, reap
from modelyard.frameworks.jobspec import TrainJobSpec
from modelyard.plugins.audio.framework import AudioFramework

RATE = 8000
SECONDS = 0.5
CLASSES = ("low", "mid", "high")
TONES = {"low": 250.0, "mid": 500.0, "high": 1000.0}
# Small features for fast tests: (40 mels, 32 frames) per clip.
FAST_CONFIG: dict[str, Any] = {
    "sample_rate": RATE,
    "duration_s": SECONDS,
    "n_fft": 512,
    "hop_length": 128,
    "n_mels": 40,
    "batch_size": 8,
    "warmup_epochs": 1,
    "early_stop_patience": 0,
    "lr": 0.003,
}


def tone(
    hz: float, *, rate: int = RATE, seconds: float = SECONDS, level: float = 0.5, noise: float = 0.0, seed: int = 0
) -> np.ndarray[Any, np.dtype[np.float64]]:
    t = np.arange(round(rate * seconds)) / rate
    rng = np.random.default_rng(seed)
    signal: np.ndarray[Any, np.dtype[np.float64]] = level * np.sin(2 * np.pi * hz * t + rng.uniform(0, 2 * np.pi))
    return signal + rng.normal(0.0, noise, t.shape) if noise else signal


def wav_bytes(samples: np.ndarray[Any, Any], *, rate: int = RATE, channels: int = 1, width: int = 2) -> bytes:
    """Float samples in [-1, 1] (frames, or frames x channels) as integer PCM WAV."""
    data = np.asarray(samples, dtype=np.float64)
    if data.ndim == 1 and channels > 1:
        data = np.repeat(data[:, None], channels, axis=1)
    full = float(2 ** (8 * width - 1))
    ints = np.clip(np.round(data * full), -full, full - 1).astype(np.int64).reshape(-1)
    if width == 1:
        raw = (ints + 128).astype(np.uint8).tobytes()
    elif width == 3:
        raw = (ints.astype("<i4").view(np.uint8).reshape(-1, 4)[:, :3]).tobytes()
    else:
        raw = ints.astype({2: "<i2", 4: "<i4"}[width]).tobytes()
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(channels)
        writer.setsampwidth(width)
        writer.setframerate(rate)
        writer.writeframes(raw)
    return buffer.getvalue()


def make_dataset(
    root: Path,
    *,
    train: int = 10,
    val: int = 3,
    rate: int = RATE,
    classes: Sequence[str] = CLASSES,
    seed: int = 0,
) -> Path:
    """`<split>/<class>/<n>.wav` noisy tones (one frequency per class, jittered) and data.yaml, as the trainer
    writes a dataset version; returns data.yaml."""
    rng = np.random.default_rng(seed)
    for split, count in (("train", train), ("val", val)):
        for name in classes:
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                hz = TONES[name] * rng.uniform(0.97, 1.03)
                clip = tone(hz, rate=rate, level=rng.uniform(0.2, 0.6), noise=0.02, seed=int(rng.integers(1 << 30)))
                (folder / f"{i:03d}.wav").write_bytes(wav_bytes(clip, rate=rate))
    names = "\n".join(f"  {i}: {n}" for i, n in enumerate(classes))
    data = root / "data.yaml"
    data.write_text(f"path: {root}\ntrain: train\nval: val\nnames:\n{names}\n")
    return data


@pytest.fixture(scope="session")
def dataset_yaml(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("tones"))


def job_spec(data: Path, workdir: Path, resume_from: str | None = None, **config: Any) -> TrainJobSpec:
    return TrainJobSpec(
        job_id="job-audio",
        attempt=1,
        task="audio_classify",
        dataset_yaml=str(data),
        workdir=str(workdir),
        config=FAST_CONFIG | config,
        resume_from=resume_from,
    )


@pytest.fixture
def start_child(tmp_path: Path) -> Iterator[Callable[..., ChildRun]]:
    runs: list[ChildRun] = []

    def start(spec: TrainJobSpec, extra_env: dict[str, str] | None = None) -> ChildRun:
        argv = AudioFramework().command(spec)
        runs.append(launch(argv, tmp_path / f"child-{len(runs)}.stderr", child_env(extra_env)))
        return runs[-1]

    yield start
    for run in runs:
        reap(run)
