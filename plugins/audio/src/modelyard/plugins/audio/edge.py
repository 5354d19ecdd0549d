"""The edge runtime of audio_classify (`modelyard.edge.runtimes` entry point): onnxruntime and numpy only, never
torch or the training code.

The request body is a WAV file (PCM, any channel count, at the sample rate the model was trained at); it goes
through the same numpy log-mel code as the training clips, then the model. The answer:

    {"class_id": 1, "class_name": "dog", "confidence": 0.93, "probabilities": {"cat": 0.07, "dog": 0.93}}

BadInput("body", ...) for an empty body, something that is not a PCM WAV, or a clip at another sample rate (the
message names the rate the model expects; nothing is resampled). A clip longer than the model's duration is judged
on its middle, a shorter one is padded with silence, exactly as in training.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from modelyard.edge.models import InvalidModel, ModelInfo
from modelyard.edge.runtimes import BadInput, Predictor
from modelyard.plugins.audio.features import FeatureParams, WavError, WrongSampleRate, log_mel, wav_features

TASK = "audio_classify"
DEFAULT_PROVIDERS = ("CPUExecutionProvider",)
ROUND = 6


class AudioPredictor:
    """An ONNX audio classifier with its feature parameters and class names, read from the model's metadata."""

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
        meta: dict[str, str] = dict(self._session.get_modelmeta().custom_metadata_map)
        task = meta.get("task")
        if task != TASK:
            raise InvalidModel(path, f"task {task!r} in the model's metadata, expected {TASK!r}")
        try:
            self.params = FeatureParams.from_metadata(meta["features"])
            names: Any = json.loads(meta["names"])
        except (KeyError, ValueError, TypeError) as error:
            raise InvalidModel(path, f"unusable metadata (features, names): {error}") from error
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise InvalidModel(path, f"metadata names must be a non-empty list of class names, got {meta['names']!r}")
        inputs, outputs = self._session.get_inputs(), self._session.get_outputs()
        if len(inputs) != 1:
            raise InvalidModel(path, f"expected one input (log_mel), got {len(inputs)}")
        shape = list(inputs[0].shape)
        if len(shape) != 4 or shape[1:] != [1, *self.params.shape]:
            expected = f"(batch, 1, {self.params.n_mels}, {self.params.frames})"
            raise InvalidModel(path, f"input shape {shape}, expected {expected} from the feature parameters")
        by_name = {output.name: output for output in outputs}
        if "probabilities" not in by_name:
            raise InvalidModel(path, f"no 'probabilities' output (outputs: {', '.join(by_name)})")
        self._input_name: str = inputs[0].name
        self.class_names: tuple[str, ...] = tuple(names)
        self.info = ModelInfo(
            ai_module=ai_module,
            version=version,
            counter=counter,
            task=TASK,
            class_names=self.class_names,
            imgsz=(0, 0),
            path=path,
            loaded_at=datetime.now(UTC),
        )

    def probabilities(self, features: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """(classes,) probabilities for one clip's (n_mels, frames) features."""
        batch = features[None, None, :, :].astype(np.float32, copy=False)
        (result,) = self._session.run(["probabilities"], {self._input_name: batch})
        output: npt.NDArray[np.float32] = np.asarray(result, dtype=np.float32)[0]
        return output

    def health_check(self) -> None:
        """Raise InvalidModel unless a quiet tone gives finite probabilities, one per class, summing to 1."""
        seconds = np.arange(self.params.num_samples, dtype=np.float32) / self.params.sample_rate
        tone = (0.1 * np.sin(2 * np.pi * 440.0 * seconds)).astype(np.float32)
        output = self.probabilities(log_mel(tone, self.params))
        if output.shape != (len(self.class_names),):
            raise InvalidModel(self.info.path, f"{output.shape[0]} probabilities for {len(self.class_names)} classes")
        if not np.isfinite(output).all() or abs(float(output.sum()) - 1.0) > 1e-3:
            raise InvalidModel(self.info.path, "the probabilities on a test tone are not finite or do not sum to 1")

    def predict(self, body: bytes, params: Mapping[str, str]) -> dict[str, Any]:
        try:
            features = wav_features(body, self.params)
        except WrongSampleRate as error:
            raise BadInput("body", str(error)) from error
        except WavError as error:
            raise BadInput("body", f"{error}; send a PCM WAV file at {self.params.sample_rate} Hz") from error
        output = self.probabilities(features)
        best = int(np.argmax(output))
        return {
            "class_id": best,
            "class_name": self.class_names[best],
            "confidence": round(float(output[best]), ROUND),
            "probabilities": {name: round(float(p), ROUND) for name, p in zip(self.class_names, output, strict=True)},
        }


def load(path: Path, *, ai_module: str, version: str, counter: int) -> Predictor:
    """The `modelyard.edge.runtimes` loader: build, check and warm the model (blocking; the agent runs it in a
    thread). Raises InvalidModel when it cannot serve."""
    predictor = AudioPredictor(path, ai_module=ai_module, version=version, counter=counter)
    predictor.health_check()
    predictor.health_check()  # a second run: onnxruntime allocates on the first ones, not on a request
    return predictor
