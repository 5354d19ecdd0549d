"""Tiny synthetic datasets and a runner for training child processes."""

from __future__ import annotations

import os
import random
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
try:  # the trainer service may not be installed into the venv yet; its source tree is enough
    import modelyard.trainer  # noqa: F401
except ModuleNotFoundError:
    sys.path.insert(0, str(SRC))

from modelyard.frameworks import childrun  # noqa: E402
from modelyard.frameworks.childrun import ChildRun, reap  # noqa: E402
from modelyard.trainer.frameworks import TrainJobSpec, get  # noqa: E402

COLOURS = {"red": (220, 30, 30), "blue": (30, 30, 220)}
IMGSZ = 64


def _noise_image(rng: random.Random, size: int) -> Any:
    from PIL import Image

    return Image.frombytes("RGB", (size, size), rng.randbytes(size * size * 3))


def make_detect_dataset(
    root: Path, n_train: int = 16, n_val: int = 4, size: int = IMGSZ, *, polygons: bool = False
) -> Path:
    """Coloured rectangles on noise, one or two per image, class = colour; boxes, or polygons for segmentation.
    Returns data.yaml."""
    from PIL import ImageDraw

    rng = random.Random(7)
    names = list(COLOURS)
    for split, count in (("train", n_train), ("val", n_val)):
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        (root / "labels" / split).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            image = _noise_image(rng, size)
            draw = ImageDraw.Draw(image)
            lines = []
            for _ in range(rng.randint(1, 2)):
                cls = rng.randrange(len(names))
                w, h = rng.randint(size // 4, size // 2), rng.randint(size // 4, size // 2)
                x0, y0 = rng.randint(0, size - w), rng.randint(0, size - h)
                draw.rectangle((x0, y0, x0 + w - 1, y0 + h - 1), fill=COLOURS[names[cls]])
                if polygons:
                    x1, y1, x2, y2 = x0 / size, y0 / size, (x0 + w) / size, (y0 + h) / size
                    lines.append(f"{cls} {x1:.6f} {y1:.6f} {x2:.6f} {y1:.6f} {x2:.6f} {y2:.6f} {x1:.6f} {y2:.6f}")
                else:
                    cx, cy = (x0 + w / 2) / size, (y0 + h / 2) / size
                    lines.append(f"{cls} {cx:.6f} {cy:.6f} {w / size:.6f} {h / size:.6f}")
            image.save(root / "images" / split / f"{i:03d}.jpg", quality=95)
            (root / "labels" / split / f"{i:03d}.txt").write_text("\n".join(lines) + "\n")
    data = root / "data.yaml"
    names_yaml = "\n".join(f"  {i}: {n}" for i, n in enumerate(names))
    data.write_text(f"path: {root}\ntrain: images/train\nval: images/val\nnames:\n{names_yaml}\n")
    return data


def make_classify_dataset(root: Path, per_class_train: int = 6, per_class_val: int = 2, size: int = 32) -> Path:
    """Folders per class: a noisy image mostly covered by the class colour. Returns the dataset folder."""
    from PIL import ImageDraw

    rng = random.Random(11)
    for split, count in (("train", per_class_train), ("val", per_class_val)):
        for name, colour in COLOURS.items():
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                image = _noise_image(rng, size)
                ImageDraw.Draw(image).rectangle((4, 4, size - 5, size - 5), fill=colour)
                image.save(folder / f"{i:03d}.png")
    return root


def launch(spec: TrainJobSpec, stderr_path: Path, extra_env: dict[str, str] | None = None) -> ChildRun:
    """Start the child the way the worker does: the framework's command, stdout a pipe, stderr a log."""
    argv = get("ultralytics").command(spec)
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}  # as the worker would run it
    # Any attempt to reach the network fails at once on a dead local proxy (and shows up in stderr).
    env.update(dict.fromkeys(("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"), "http://127.0.0.1:9"))
    env.pop("NO_PROXY", None)
    env.pop("no_proxy", None)
    env.update(extra_env or {})
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SRC), env.get("PYTHONPATH", "")) if p)
    return childrun.launch(argv, stderr_path, env)


@pytest.fixture
def start_child(tmp_path: Path) -> Iterator[Callable[..., ChildRun]]:
    """start_child(spec, extra_env=None) -> ChildRun; whatever is still running at the end is killed."""
    runs: list[ChildRun] = []

    def start(spec: TrainJobSpec, extra_env: dict[str, str] | None = None) -> ChildRun:
        runs.append(launch(spec, tmp_path / f"stderr-{len(runs)}.log", extra_env))
        return runs[-1]

    yield start
    for run in runs:
        reap(run)


@pytest.fixture(scope="session")
def finished_detect_run(detect_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChildRun]:
    """A 2-epoch detect job run to completion (shared: several tests look at it)."""
    work = tmp_path_factory.mktemp("finished-detect")
    run = launch(_detect_spec(detect_data, work / "work", epochs=2), work / "stderr.log")
    run.finish()
    yield run
    reap(run)


def _detect_spec(dataset: Path, workdir: Path, **config: Any) -> TrainJobSpec:
    resume_from = config.pop("resume_from", None)
    return TrainJobSpec(
        job_id="job-1",
        attempt=2 if resume_from else 1,
        task="detect",
        dataset_yaml=str(dataset),
        workdir=str(workdir),
        config={
            "model": "yolo11n.yaml",
            "epochs": 2,
            "imgsz": IMGSZ,
            "batch": 8,
            "workers": 0,
            "seed": 0,
            "mosaic": 0.0,
            **config,
        },
        resume_from=resume_from,
        device="cpu",
    )


@pytest.fixture(scope="session")
def detect_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """data.yaml of 16 train / 4 val images of 64 px."""
    return make_detect_dataset(tmp_path_factory.mktemp("detect-data"))


@pytest.fixture(scope="session")
def segment_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """data.yaml of 16 train / 4 val images of 64 px with polygon labels."""
    return make_detect_dataset(tmp_path_factory.mktemp("segment-data"), polygons=True)


@pytest.fixture(scope="session")
def classify_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of train/ and val/ class folders, 32 px images."""
    return make_classify_dataset(tmp_path_factory.mktemp("classify-data"))


@pytest.fixture
def detect_spec() -> Callable[..., TrainJobSpec]:
    """detect_spec(data_yaml, workdir, **config overrides, resume_from=None)."""
    return _detect_spec
