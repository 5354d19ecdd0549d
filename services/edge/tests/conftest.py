"""A real Ultralytics detect export, and what Ultralytics itself predicts with it, for the edge tests.

Made once per session by `ultralytics_child.py` in a child process (Ultralytics must never be imported into the
pytest process; see the root conftest). About 10 s on two cores: torch and Ultralytics imports, a YOLO11n built
from its YAML with random weights, an ONNX export at 128 px, and `predict` on four images.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw

CHILD = Path(__file__).with_name("ultralytics_child.py")
IMGSZ = 128
REFERENCE_CONF = 0.01
REFERENCE_IOU = 0.7
# name -> (width, height): each exercises another letterbox path at 128 px
IMAGES = {
    "wide.png": (160, 120),  # reduced by 0.8, padded top and bottom
    "tall.png": (90, 200),  # reduced by 0.64 to an odd width (58): uneven left/right padding
    "small.jpg": (64, 48),  # enlarged 2x, and JPEG (decoded by PIL here, by OpenCV in Ultralytics)
    "half.png": (256, 192),  # reduced by exactly 2 (OpenCV averages 2x2 blocks there)
}


@dataclass(frozen=True)
class Reference:
    """Ultralytics' own results for `model` on `images`."""

    model: Path
    images: dict[str, Path]
    predictions: dict[str, Any]  # image name -> {"shape", "boxes", "confidences", "class_ids"}
    letterbox_dir: Path  # <stem>.npy: Ultralytics' letterboxed image, RGB


def make_image(width: int, height: int, seed: int) -> Image.Image:
    """Noise with a few flat rectangles: objects of sorts for a random model, and edges for the resize."""
    rng = np.random.default_rng(seed)
    image = Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(3):
        x0, y0 = int(rng.integers(0, width // 2)), int(rng.integers(0, height // 2))
        x1, y1 = x0 + int(rng.integers(8, width // 2)), y0 + int(rng.integers(8, height // 2))
        draw.rectangle((x0, y0, x1, y1), fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
    return image


@pytest.fixture(scope="session")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Reference:
    root = tmp_path_factory.mktemp("ultralytics-reference")
    images: dict[str, Path] = {}
    for seed, (name, (width, height)) in enumerate(IMAGES.items()):
        images[name] = root / name
        make_image(width, height, seed).save(images[name], quality=90)
    out = root / "out"
    out.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    # Any attempt to reach the network fails at once on a dead local proxy (and shows in the child's stderr).
    env.update(dict.fromkeys(("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"), "http://127.0.0.1:9"))
    env.pop("NO_PROXY", None)
    env.pop("no_proxy", None)
    argv = [sys.executable, str(CHILD), "--out", str(out), "--imgsz", str(IMGSZ)]
    argv += ["--conf", str(REFERENCE_CONF), "--iou", str(REFERENCE_IOU), *map(str, images.values())]
    done = subprocess.run(argv, cwd=out, env=env, capture_output=True, timeout=300, check=False)
    if done.returncode != 0:
        pytest.fail(f"the Ultralytics child failed ({done.returncode}):\n{done.stderr.decode()[-4000:]}")
    return Reference(
        model=out / "model.onnx",
        images=images,
        predictions=json.loads((out / "predictions.json").read_text()),
        letterbox_dir=out / "letterbox",
    )


@pytest.fixture(scope="session")
def model_path(reference: Reference) -> Path:
    """An Ultralytics YOLO11n detect export (3 classes: car, bus, truck; 128 px; random weights)."""
    return reference.model
