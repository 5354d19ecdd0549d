"""The reference side of the parity tests, run as a script in a child process (never imported: Ultralytics patches
process-wide functions on import, and the root conftest fails a run that imports it into the pytest process). The
edge benchmarks run it too, for their model.

    python ultralytics_child.py --out DIR [--imgsz 128] [--seed 0] [--conf 0.01] [--iou 0.7] [IMAGE ...]

What it writes into DIR (its working directory during the run: Ultralytics exports beside the current directory):
- model.onnx: a YOLO11n detect model built from `yolo11n.yaml` with three classes (car, bus, truck), random weights
  from a fixed torch seed (nothing is downloaded; nothing here reaches the network), exported as the trainer exports
  (static shape, onnxslim when installed). Two changes make a random model a useful reference: its BatchNorm
  statistics are recomputed on a few images (freshly initialised, the activations shrink to ~1e-8 by the head and
  every anchor gets the same score), and its class logits get a bias of -2.2 and a third of their random weights,
  so that scores spread over about 0.1-0.4 instead of saturating: the comparison is between distinct scores, and
  NMS has overlapping boxes of several classes to sort out;
- predictions.json: `YOLO("model.onnx").predict(...)` for each IMAGE: boxes (xyxy, pixels of the original image),
  confidences and class ids, in Ultralytics' order;
- letterbox/<stem>.npy: Ultralytics' `LetterBox` applied to each image as it reads it (cv2, BGR), flipped to RGB,
  so that the pre-processing can be compared on its own, byte for byte.

The offline settings mirror the trainer's (`YOLO_OFFLINE`, no autoinstall, a private config dir, telemetry off):
duplicated here because a service's tests must not import another service.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

CLASS_NAMES = {0: "car", 1: "bus", 2: "truck"}
CLASS_BIAS = -2.2  # sigmoid(-2.2) ~ 0.1, before the random part of the head adds its spread
CLASS_WEIGHT_SCALE = 0.3  # of the random class weights: a spread of about 0.1-0.4, few scores saturate at 1.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--imgsz", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--conf", type=float, default=0.01)
    parser.add_argument("--iou", type=float, default=0.7)
    parser.add_argument("images", nargs="*", type=Path)
    args = parser.parse_args(argv)
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    images = [p.resolve() for p in args.images]
    os.chdir(out)
    _offline(out / "ultralytics-config")

    model_path = export(out, imgsz=args.imgsz, seed=args.seed, calibration=images)
    if images:
        predict(model_path, images, out, imgsz=args.imgsz, conf=args.conf, iou=args.iou)
    return 0


def _offline(config_dir: Path) -> None:
    """Before the first `import ultralytics`: it decides at import time whether it is online and where settings live."""
    config_dir.mkdir(parents=True, exist_ok=True)
    os.environ["YOLO_OFFLINE"] = "1"
    os.environ["YOLO_AUTOINSTALL"] = "0"
    os.environ["YOLO_CONFIG_DIR"] = str(config_dir)
    os.environ.setdefault("MPLCONFIGDIR", str(config_dir / "matplotlib"))
    from ultralytics.utils import SETTINGS

    SETTINGS.update({"sync": False, "runs_dir": str(config_dir / "runs"), "weights_dir": str(config_dir / "weights")})


def export(out: Path, *, imgsz: int, seed: int, calibration: list[Path]) -> Path:
    import importlib.util

    import torch
    from ultralytics import YOLO
    from ultralytics.nn.tasks import yaml_model_load
    from ultralytics.utils import YAML

    architecture = yaml_model_load("yolo11n.yaml")  # the built-in YOLO11 file at scale n, with nc: 80
    architecture["nc"] = len(CLASS_NAMES)
    local_yaml = out / "yolo11n-3cls.yaml"  # the name keeps the scale letter Ultralytics reads from it
    YAML.save(local_yaml, {k: v for k, v in architecture.items() if k not in ("scale", "yaml_file")})
    torch.manual_seed(seed)
    model = YOLO(str(local_yaml), task="detect")
    model.model.names = dict(CLASS_NAMES)
    head: Any = model.model.model[-1]
    with torch.no_grad():
        for branch in head.cv3:  # one classification branch per stride; its last layer is a 1x1 conv with bias
            branch[-1].bias.fill_(CLASS_BIAS)
            branch[-1].weight.mul_(CLASS_WEIGHT_SCALE)
    _calibrate_batch_norm(model.model, imgsz, calibration)
    exported = model.export(
        format="onnx",
        imgsz=imgsz,
        dynamic=False,
        simplify=importlib.util.find_spec("onnxslim") is not None,
        device="cpu",
        verbose=False,
    )
    target = out / "model.onnx"
    Path(exported).replace(target)
    return target


def _calibrate_batch_norm(network: Any, imgsz: int, images: list[Path]) -> None:
    """A freshly initialised network's activations shrink layer after layer (each BatchNorm still holds mean 0,
    variance 1): at the head they are ~1e-8 and every anchor gets the same score. Forward passes in train mode over
    noise and the given images, with cumulative BatchNorm statistics, bring them back to unit scale on inputs like
    the ones predicted on later; no weight changes."""
    import cv2
    import numpy as np
    import torch
    from ultralytics.data.augment import LetterBox

    for module in network.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.reset_running_stats()
            module.momentum = None  # a plain average over the passes below
    boxed = [LetterBox((imgsz, imgsz))(image=cv2.imread(str(p)))[..., ::-1] for p in images]
    batch = torch.from_numpy(np.stack(boxed).transpose(0, 3, 1, 2).copy()).float() / 255 if boxed else None
    network.train()
    with torch.no_grad():
        for _ in range(2):
            network(torch.rand(8, 3, imgsz, imgsz))
            if batch is not None:
                network(batch)
    network.eval()


def predict(model_path: Path, images: list[Path], out: Path, *, imgsz: int, conf: float, iou: float) -> None:
    import cv2
    import numpy as np
    from ultralytics import YOLO
    from ultralytics.data.augment import LetterBox

    (out / "letterbox").mkdir(exist_ok=True)
    model = YOLO(str(model_path), task="detect")
    records: dict[str, Any] = {}
    for image in images:
        bgr = cv2.imread(str(image))
        boxed = LetterBox((imgsz, imgsz))(image=bgr)
        np.save(out / "letterbox" / f"{image.stem}.npy", np.ascontiguousarray(boxed[..., ::-1]))
        result = model.predict(str(image), imgsz=imgsz, conf=conf, iou=iou, device="cpu", verbose=False)[0]
        records[image.name] = {
            "shape": list(result.orig_shape),
            "boxes": result.boxes.xyxy.tolist(),
            "confidences": result.boxes.conf.tolist(),
            "class_ids": [int(c) for c in result.boxes.cls.tolist()],
        }
    (out / "predictions.json").write_text(json.dumps(records, indent=1))


if __name__ == "__main__":
    sys.exit(main())
