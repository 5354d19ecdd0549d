"""Rated frames made on the spot, laid out as the trainer writes a regress dataset version, and a runner for the
training child started through the trainer's framework seam."""

from __future__ import annotations

import csv
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw

from modelyard.frameworks.childrun import ChildRun, child_env, launch, reap
from modelyard.frameworks.jobspec import TrainJobSpec
from modelyard.plugins.regress.framework import RegressFramework


def rated_frame(rng: random.Random, size: int) -> tuple[Image.Image, float]:
    """A dim noise frame with a bright square; its rating is the share of the frame the square covers, scaled to
    0..1: something a small CNN can learn in a few epochs."""
    image = Image.frombytes("RGB", (size, size), bytes(rng.randrange(0, 60) for _ in range(size * size * 3)))
    side = rng.randint(size // 8, size - 2)
    x0, y0 = rng.randint(0, size - side), rng.randint(0, size - side)
    ImageDraw.Draw(image).rectangle((x0, y0, x0 + side - 1, y0 + side - 1), fill=(250, 240, 90))
    return image, round(side * side / (size * size), 4)


def make_dataset(root: Path, *, train: int = 24, val: int = 8, size: int = 40, seed: int = 0, unrated: int = 0) -> Path:
    """`<split>/<file>` frames, `<split>/labels.csv` (name, value, rating) and data.yaml, as the trainer writes a
    regress dataset version; `unrated` more train frames have no rating. Returns data.yaml."""
    rng = random.Random(seed)
    for split, count in (("train", train), ("val", val)):
        folder = root / split
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / "labels.csv").open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["name", "value", "rating"])
            extra = unrated if split == "train" else 0
            for i in range(count + extra):
                image, rating = rated_frame(rng, size)
                name = f"{split}_{i:03d}.png"
                image.save(folder / name)
                writer.writerow([name, "", rating if i < count else ""])
    data = root / "data.yaml"
    data.write_text(f"path: {root}\ntrain: train\nval: val\nnames: {{}}\n")
    return data


FAST: dict[str, Any] = {"epochs": 3, "imgsz": 32, "batch": 8, "workers": 0, "seed": 0, "lr": 0.01, "patience": 0}


def job_spec(data: Path, workdir: Path, *, resume_from: str | None = None, **config: Any) -> TrainJobSpec:
    return TrainJobSpec(
        job_id="job-regress",
        attempt=2 if resume_from else 1,
        task="regress",
        dataset_yaml=str(data),
        workdir=str(workdir),
        config=FAST | config,
        resume_from=resume_from,
        device="cpu",
    )


@pytest.fixture
def start_child(tmp_path: Path) -> Iterator[Callable[..., ChildRun]]:
    """start_child(spec or argv, extra_env=None) -> ChildRun; whatever still runs at the end is killed."""
    runs: list[ChildRun] = []

    def start(what: TrainJobSpec | list[str], extra_env: dict[str, str] | None = None) -> ChildRun:
        argv = RegressFramework().command(what) if isinstance(what, TrainJobSpec) else what
        runs.append(launch(argv, tmp_path / f"stderr-{len(runs)}.log", child_env(extra_env)))
        return runs[-1]

    yield start
    for run in runs:
        reap(run)


@pytest.fixture(scope="session")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """data.yaml of 24 train / 8 val rated frames of 40 px, plus 2 unrated train frames."""
    return make_dataset(tmp_path_factory.mktemp("regress-data"), unrated=2)
