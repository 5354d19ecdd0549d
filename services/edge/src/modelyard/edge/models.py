"""A loaded ONNX detect model, and the slots that hot-swap them.

Loading is slow (reading the file, building the session, warm-up runs) and happens off the request path: a caller
runs `load_model` in a thread and, only once the new model has answered its health check and warm-up, puts it in
its slot with `ModelSlots.swap`. The swap is one dict assignment under a lock; a request takes its model from the
slot once, at its start, and keeps that reference, so a request in flight during a swap finishes on the model it
started with and nothing is dropped. The old session is freed when its last request lets go of it.
"""

from __future__ import annotations

import ast
import builtins
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from modelyard.edge.yolo import Detection, postprocess, preprocess

DEFAULT_PROVIDERS = ("CPUExecutionProvider",)


class ModelError(Exception):
    """Base of the model errors of the edge agent."""


class ModelNotLoaded(ModelError):
    """No model is loaded for this AI module."""

    def __init__(self, ai_module: str) -> None:
        super().__init__(f"no model is loaded for AI module {ai_module!r}")
        self.ai_module = ai_module


class InvalidModel(ModelError):
    """The file is not a model this agent can serve (not ONNX, not an Ultralytics detect export, or it does not
    produce finite output of the expected shape)."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


@dataclass(frozen=True)
class ModelInfo:
    """What is known about a loaded model: its release (module, version, counter) and what its metadata says."""

    ai_module: str
    version: str
    counter: int
    task: str
    class_names: tuple[str, ...]
    imgsz: tuple[int, int]  # (h, w) of the model input
    path: Path
    loaded_at: datetime


class LoadedModel:
    """An onnxruntime session for an Ultralytics detect export, with its pre- and post-processing.

    `infer` may be called from several threads at once (onnxruntime sessions are thread-safe for `run`).
    `intra_op_threads` bounds the threads one `run` uses; with several requests in parallel, 1 avoids the
    oversubscription of every run spreading over every core.
    """

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
        except Exception as e:  # onnxruntime's errors (NoSuchFile, InvalidProtobuf...) share no base
            raise InvalidModel(path, f"onnxruntime cannot load it: {e}") from e
        inputs, outputs = self._session.get_inputs(), self._session.get_outputs()
        if len(inputs) != 1 or len(outputs) < 1:
            raise InvalidModel(path, f"expected one input and an output, got {len(inputs)} and {len(outputs)}")
        self._input_name: str = inputs[0].name
        self._output_name: str = outputs[0].name
        metadata: dict[str, str] = dict(self._session.get_modelmeta().custom_metadata_map)
        task = metadata.get("task", "detect")
        if task != "detect":
            raise InvalidModel(path, f"task {task!r} is not served here (detect only)")
        if _literal(metadata.get("end2end"), False) or _literal(metadata.get("args"), {}).get("nms"):
            raise InvalidModel(path, "end-to-end (NMS-in-model) exports are not supported; export with nms=False")
        imgsz = _input_size(path, inputs[0].shape, metadata.get("imgsz"))
        nc = _class_count(path, outputs[0].shape)
        self.info = ModelInfo(
            ai_module=ai_module,
            version=version,
            counter=counter,
            task=task,
            class_names=_class_names(path, metadata.get("names"), nc),
            imgsz=imgsz,
            path=path,
            loaded_at=datetime.now(UTC),
        )

    @property
    def session(self) -> Any:
        """The onnxruntime InferenceSession (for benchmarks and diagnostics)."""
        return self._session

    @property
    def input_name(self) -> str:
        return self._input_name

    def run(self, tensor: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """The raw model output, (1, 4 + nc, N), for a preprocessed 1x3xHxW tensor."""
        outputs = self._session.run([self._output_name], {self._input_name: tensor})
        result: npt.NDArray[np.float32] = outputs[0]
        return result

    def infer(
        self, image: npt.NDArray[np.uint8], conf: float = 0.25, iou: float = 0.7, max_det: int = 300
    ) -> list[Detection]:
        """Detections on an RGB uint8 (H, W, 3) image, boxes in its pixels, as Ultralytics' `predict` would give."""
        tensor, ratio, pad = preprocess(image, self.info.imgsz)
        return postprocess(
            self.run(tensor),
            conf=conf,
            iou=iou,
            ratio=ratio,
            pad=pad,
            orig_shape=(image.shape[0], image.shape[1]),
            max_det=max_det,
            class_names=self.info.class_names,
        )

    def warm_up(self, runs: int = 2) -> None:
        """Run zeros through the session: onnxruntime allocates and tunes on the first runs, which would otherwise
        land on the first requests after a swap."""
        zeros = np.zeros((1, 3, *self.info.imgsz), dtype=np.float32)
        for _ in range(runs):
            self.run(zeros)

    def health_check(self) -> None:
        """Raise InvalidModel unless a zero input gives finite output of shape (1, 4 + nc, N)."""
        output = self.run(np.zeros((1, 3, *self.info.imgsz), dtype=np.float32))
        expected = 4 + len(self.info.class_names)
        if output.ndim != 3 or output.shape[0] != 1 or output.shape[1] != expected or output.shape[2] < 1:
            raise InvalidModel(self.info.path, f"output shape {output.shape}, expected (1, {expected}, N)")
        if not np.isfinite(output).all():
            raise InvalidModel(self.info.path, "output on a zero input is not finite")


def load_model(
    path: Path,
    *,
    ai_module: str,
    version: str,
    counter: int,
    providers: Sequence[str] = DEFAULT_PROVIDERS,
    intra_op_threads: int | None = None,
    warm_up_runs: int = 2,
) -> LoadedModel:
    """Build, check and warm a model: ready to serve when it returns. Blocking (a fraction of a second to seconds):
    call it in a thread, never on the event loop."""
    model = LoadedModel(
        path,
        ai_module=ai_module,
        version=version,
        counter=counter,
        providers=providers,
        intra_op_threads=intra_op_threads,
    )
    model.health_check()
    model.warm_up(warm_up_runs)
    return model


class Servable(Protocol):
    """What a slot holds: a detector (LoadedModel) or any task runtime's predictor (runtimes.Predictor)."""

    info: ModelInfo

    def health_check(self) -> None: ...


class ModelSlots:
    """AI module → the model serving it. Thread-safe; every operation is a single dict access under a lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._models: dict[str, Servable] = {}

    def get(self, ai_module: str) -> Servable:
        """The model serving `ai_module`; take it once per request and keep the reference until the request ends."""
        with self._lock:
            model = self._models.get(ai_module)
        if model is None:
            raise ModelNotLoaded(ai_module)
        return model

    def swap(self, ai_module: str, new: Servable) -> Servable | None:
        """Serve `ai_module` with `new` from now on; returns the model it replaces (None if there was none).
        Requests that already took the old model finish on it."""
        if new.info.ai_module != ai_module:
            raise ValueError(f"model for {new.info.ai_module!r} cannot serve slot {ai_module!r}")
        with self._lock:
            old = self._models.get(ai_module)
            self._models[ai_module] = new
        return old

    def remove(self, ai_module: str) -> Servable | None:
        """Stop serving `ai_module`; returns the model that served it, if any."""
        with self._lock:
            return self._models.pop(ai_module, None)

    def __contains__(self, ai_module: object) -> bool:
        with self._lock:
            return ai_module in self._models

    def __len__(self) -> int:
        with self._lock:
            return len(self._models)

    def list(self) -> builtins.list[ModelInfo]:
        """What is loaded, by AI module name."""
        with self._lock:
            models = builtins.list(self._models.values())
        return sorted((m.info for m in models), key=lambda info: info.ai_module)


def _literal(text: str | None, default: Any) -> Any:
    """A Python literal from Ultralytics' metadata (it writes str() of dicts and lists); `default` if absent or not
    a literal."""
    if text is None:
        return default
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return default


def _input_size(path: Path, shape: Sequence[Any], imgsz_text: str | None) -> tuple[int, int]:
    """(h, w) of the model input: the static input shape when it has one, else the metadata's imgsz."""
    if len(shape) != 4 or shape[1] not in (3, "3"):
        raise InvalidModel(path, f"input shape {shape}, expected (1, 3, H, W)")
    if isinstance(shape[2], int) and isinstance(shape[3], int):
        return shape[2], shape[3]
    imgsz = _literal(imgsz_text, None)
    if isinstance(imgsz, int):
        return imgsz, imgsz
    if isinstance(imgsz, list | tuple) and len(imgsz) == 2 and all(isinstance(v, int) for v in imgsz):
        return imgsz[0], imgsz[1]
    raise InvalidModel(path, f"dynamic input shape {shape} and no usable imgsz in the metadata ({imgsz_text!r})")


def _class_count(path: Path, shape: Sequence[Any]) -> int | None:
    """nc from a static output shape (1, 4 + nc, N); None when that axis is dynamic."""
    if len(shape) != 3:
        raise InvalidModel(path, f"output shape {shape}, expected (1, 4 + nc, N)")
    if isinstance(shape[1], int):
        if shape[1] < 5:
            raise InvalidModel(path, f"output shape {shape} has no class scores")
        return shape[1] - 4
    return None


def _class_names(path: Path, names_text: str | None, nc: int | None) -> tuple[str, ...]:
    """Class names by id from the metadata's `names` ("{0: 'car', 1: 'bus'}"); ids without a name are named by
    their number, so a detection always has a name."""
    names = _literal(names_text, None)
    if isinstance(names, list):
        names = dict(enumerate(names))
    if not isinstance(names, dict) or not all(isinstance(k, int) for k in names):
        if nc is None:
            raise InvalidModel(path, "neither the metadata (names) nor the output shape says how many classes")
        return tuple(str(i) for i in range(nc))
    count = nc if nc is not None else max(names, default=-1) + 1
    if nc is not None and names and max(names) >= nc:
        raise InvalidModel(path, f"metadata names {len(names)} classes, the output has {nc}")
    return tuple(str(names.get(i, i)) for i in range(count))
