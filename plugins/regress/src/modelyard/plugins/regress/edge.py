"""The edge runtime of task `regress`: a released model.onnx rates the image in the request body.

    load(path, ai_module=..., version=..., counter=...) -> RegressPredictor
    predictor.predict(image bytes, query) -> {"score": 0.73}

onnxruntime, numpy and the shared `preprocess` only: the agent never imports torch or the training code. The model
must say task=regress and the preprocessing id this agent implements in its ONNX metadata, take one static
1x3xHxW float input (H = W = its imgsz) and give one value; `load` runs the health check before handing it over,
so a model that cannot serve never replaces one that can.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from modelyard.edge.models import InvalidModel, ModelInfo
from modelyard.edge.runtimes import BadInput
from modelyard.plugins.regress import TASK
from modelyard.plugins.regress.preprocess import PREPROCESS_ID, F32Array, NotAnImage, blank, prepare_bytes

DEFAULT_PROVIDERS = ("CPUExecutionProvider",)


def _imgsz(path: Path, shape: Sequence[Any], declared: str | None) -> int:
    """The model's square input side: the static input shape, which the metadata (if any) must agree with."""
    if len(shape) != 4 or shape[:2] != [1, 3] or not all(isinstance(d, int) and d > 0 for d in shape[2:]):
        raise InvalidModel(path, f"expected a static 1x3xHxW input, got {shape}")
    height, width = int(shape[2]), int(shape[3])
    if height != width:
        raise InvalidModel(path, f"expected a square input, got {height}x{width}")
    if declared is not None:
        try:
            said = json.loads(declared)
        except ValueError:
            raise InvalidModel(path, f"metadata imgsz {declared!r} is not JSON") from None
        if said not in ([height, width], height):
            raise InvalidModel(path, f"metadata imgsz {declared} does not match the input shape {shape}")
    return height


class RegressPredictor:
    """One loaded regress model. `predict` may run in several threads at once (onnxruntime's run is thread-safe)."""

    def __init__(
        self,
        path: Path,
        *,
        ai_module: str,
        version: str,
        counter: int,
        providers: Sequence[str] = DEFAULT_PROVIDERS,
        intra_op_threads: int | None = None,
    ) -> None:
        options = ort.SessionOptions()
        if intra_op_threads is not None:
            options.intra_op_num_threads = intra_op_threads
        try:
            self._session: Any = ort.InferenceSession(str(path), sess_options=options, providers=list(providers))
        except Exception as error:  # onnxruntime's errors (NoSuchFile, InvalidProtobuf...) share no base
            raise InvalidModel(path, f"onnxruntime cannot load it: {error}") from error
        inputs, outputs = self._session.get_inputs(), self._session.get_outputs()
        if len(inputs) != 1 or len(outputs) != 1:
            raise InvalidModel(path, f"expected one input and one output, got {len(inputs)} and {len(outputs)}")
        metadata: dict[str, str] = dict(self._session.get_modelmeta().custom_metadata_map)
        task = metadata.get("task")
        if task != TASK:
            raise InvalidModel(path, f"task {task!r} in the model's metadata; this runtime serves {TASK!r}")
        preprocess_id = metadata.get("preprocess")
        if preprocess_id != PREPROCESS_ID:
            raise InvalidModel(
                path, f"the model was trained with preprocessing {preprocess_id!r}; this agent does {PREPROCESS_ID!r}"
            )
        self._input: str = inputs[0].name
        self.imgsz = _imgsz(path, inputs[0].shape, metadata.get("imgsz"))
        self.info = ModelInfo(
            ai_module=ai_module,
            version=version,
            counter=counter,
            task=TASK,
            class_names=(),
            imgsz=(self.imgsz, self.imgsz),
            path=path,
            loaded_at=datetime.now(UTC),
        )

    def score(self, batch: F32Array) -> float:
        """The model's rating of one prepared input (3, H, W)."""
        (output,) = self._session.run(None, {self._input: batch[np.newaxis]})
        values = np.asarray(output, dtype=np.float64).reshape(-1)
        if values.size != 1:
            raise InvalidModel(self.info.path, f"expected one value out, got shape {np.shape(output)}")
        return float(values[0])

    def health_check(self) -> None:
        """An all-black frame must rate as one finite number in 0..1."""
        value = self.score(blank(self.imgsz))
        if not (math.isfinite(value) and 0.0 <= value <= 1.0):
            raise InvalidModel(self.info.path, f"health check: a black frame scored {value}, not a number in 0..1")

    def predict(self, body: bytes, params: Mapping[str, str]) -> dict[str, Any]:
        del params
        # Query parameters mean nothing to a regressor (a detector's conf and iou are ignored, as HTTP allows).
        try:
            prepared = prepare_bytes(body, self.imgsz)
        except NotAnImage as error:
            raise BadInput("body", f"the request body is not an image: {error}") from error
        return {"score": round(self.score(prepared), 6)}


def load(path: Path, *, ai_module: str, version: str, counter: int) -> RegressPredictor:
    """The `modelyard.edge.runtimes` entry point: the model at `path`, health-checked, ready to serve."""
    predictor = RegressPredictor(path, ai_module=ai_module, version=version, counter=counter)
    predictor.health_check()
    return predictor
