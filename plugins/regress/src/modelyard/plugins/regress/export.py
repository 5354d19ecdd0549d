"""RatingNet to ONNX: opset 17, one static input `images` of 1x3xHxW (normalised as `preprocess` does), one output
`score` of shape 1x1 in 0..1, and metadata the edge reads (task, imgsz, preprocessing, framework version)."""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import onnx
import torch

from modelyard.plugins.regress import TASK
from modelyard.plugins.regress.preprocess import MEAN, PREPROCESS_ID, STD

OPSET = 17
INPUT_NAME = "images"
OUTPUT_NAME = "score"


def export_onnx(model: Any, imgsz: int, path: Path, extra_metadata: Mapping[str, str] | None = None) -> Path:
    """Write `model` (a RatingNet; put in eval mode on the CPU here) as ONNX at `path`, atomically."""
    model = model.to("cpu").eval()
    example = torch.zeros(1, 3, imgsz, imgsz, dtype=torch.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with warnings.catch_warnings():
        # The TorchScript exporter (dynamo=False) warns that it is the legacy one. It is the one that needs no
        # onnxscript and gives a plain, static graph for this small network; the warning changes nothing here.
        warnings.simplefilter("ignore", DeprecationWarning)
        with torch.no_grad():
            torch.onnx.export(
                model,
                (example,),
                str(tmp),
                dynamo=False,
                opset_version=OPSET,
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                do_constant_folding=True,
            )
    proto = onnx.load(str(tmp))
    metadata = {
        "task": TASK,
        "imgsz": json.dumps([imgsz, imgsz]),
        "preprocess": PREPROCESS_ID,
        "mean": json.dumps([float(v) for v in MEAN]),
        "std": json.dumps([float(v) for v in STD]),
        "output": "score: rating in 0..1, shape [1, 1]",
        **(extra_metadata or {}),
    }
    del proto.metadata_props[:]
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto)
    onnx.save(proto, str(tmp))
    tmp.replace(path)
    return path
