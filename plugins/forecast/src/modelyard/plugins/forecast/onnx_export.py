"""Writing the model file the release carries: the ONNX graph plus the forecast spec in its metadata_props (the
release holds only model.onnx and release.json, so the edge finds the scaler, windows, calendar features and
holiday table there)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import onnx

from modelyard.plugins.forecast import TASK, VERSION
from modelyard.plugins.forecast.features import METADATA_KEY, ForecastSpec


def with_spec(model: Any, spec: ForecastSpec) -> Any:
    """`model` (an onnx.ModelProto) with `task`, the producer and the spec (JSON under METADATA_KEY) as metadata."""
    entries = {"task": TASK, METADATA_KEY: spec.to_json(), "modelyard.plugin": f"forecast {VERSION}"}
    kept = [p for p in model.metadata_props if p.key not in entries]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    for key, value in entries.items():
        model.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(model)
    return model


def write(model: Any, spec: ForecastSpec, path: Path) -> tuple[int, str]:
    """Write the model with its spec to `path`; returns (size, sha256)."""
    data: bytes = with_spec(model, spec).SerializeToString()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return len(data), hashlib.sha256(data).hexdigest()
