"""The edge runtime of task "forecast" (`modelyard.edge.runtimes` entry point): onnxruntime and numpy only.

Request body (JSON): {"timestamps": [ISO 8601, ...], "values": [[v1, v2, ...], ...]}: the last `input_steps` rows of
the series in original units, oldest first, one value per column in the model's column order (`GET /v1/models`
does not list columns; the answer of every forecast names them). Timestamps must be `step` apart, as in training.

Answer: {"forecast": [[...], ...], "timestamps": [...], "columns": [...]}: `output_steps` rows in original units
and their timestamps (UTC, ISO 8601), each `step` after the one before, the first (offset + 1) steps after the last
input row.

Bad input raises BadInput naming the field: `body` (not JSON, not an object), `timestamps` (missing, wrong count,
unreadable, not one step apart), `values` (missing, wrong number of rows, a row with the wrong number of columns,
a value that is not a finite number).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from modelyard.edge.models import ModelInfo
from modelyard.edge.runtimes import BadInput
from modelyard.plugins.forecast import TASK
from modelyard.plugins.forecast.features import METADATA_KEY, ForecastSpec, SpecError, parse_timestamp


class ForecastModelError(Exception):
    """The file is not a forecast model this runtime can serve."""


class ForecastPredictor:
    def __init__(self, path: Path, *, ai_module: str, version: str, counter: int, intra_op_threads: int = 1) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = intra_op_threads
        try:
            self._session: Any = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime's errors share no base class
            raise ForecastModelError(f"{path}: onnxruntime cannot load it: {error}") from error
        metadata = dict(self._session.get_modelmeta().custom_metadata_map)
        if metadata.get("task") != TASK or METADATA_KEY not in metadata:
            raise ForecastModelError(f"{path}: not a forecast model (no {METADATA_KEY} metadata)")
        try:
            self.spec = ForecastSpec.from_json(metadata[METADATA_KEY])
        except SpecError as error:
            raise ForecastModelError(f"{path}: {error}") from error
        inputs, outputs = self._session.get_inputs(), self._session.get_outputs()
        if len(inputs) != 1 or not outputs:
            raise ForecastModelError(f"{path}: expected one input and an output")
        width = inputs[0].shape[-1]
        if isinstance(width, int) and width != self.spec.input_size:
            raise ForecastModelError(f"{path}: input width {width}, the spec says {self.spec.input_size}")
        self._input = inputs[0].name
        self._output = outputs[0].name
        self.info = ModelInfo(
            ai_module=ai_module,
            version=version,
            counter=counter,
            task=TASK,
            class_names=(),
            imgsz=(0, 0),
            path=path,
            loaded_at=datetime.now(UTC),
        )

    def run(self, model_input: np.ndarray[Any, np.dtype[np.float32]]) -> np.ndarray[Any, np.dtype[np.float64]]:
        out = self._session.run([self._output], {self._input: model_input})[0]
        return np.asarray(out, dtype=np.float64)

    def health_check(self) -> None:
        """Raise unless an input of zeros gives a finite output of the expected size."""
        output = self.run(np.zeros((1, self.spec.input_size), dtype=np.float32))
        if output.shape != (1, self.spec.output_size):
            raise ForecastModelError(f"output shape {output.shape}, expected (1, {self.spec.output_size})")
        if not np.isfinite(output).all():
            raise ForecastModelError("the output on a zero input is not finite")

    def predict(self, body: bytes, params: Mapping[str, str]) -> dict[str, Any]:
        timestamps, values = self.parse(body)
        output = self.run(self.spec.model_input(values, timestamps))
        forecast = self.spec.forecast_rows(output)[0]
        return {
            "forecast": [[float(v) for v in row] for row in forecast],
            "timestamps": [t.isoformat() for t in self.spec.future_timestamps(timestamps[-1])],
            "columns": list(self.spec.columns),
        }

    def parse(self, body: bytes) -> tuple[list[datetime], np.ndarray[Any, np.dtype[np.float64]]]:
        spec = self.spec
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise BadInput("body", 'expected JSON: {"timestamps": [...], "values": [[...], ...]}') from None
        if not isinstance(data, dict):
            raise BadInput("body", 'expected a JSON object: {"timestamps": [...], "values": [[...], ...]}')
        stamps, rows = data.get("timestamps"), data.get("values")
        if not isinstance(stamps, list) or len(stamps) != spec.input_steps:
            got = f"{len(stamps)}" if isinstance(stamps, list) else "none"
            raise BadInput(
                "timestamps", f"expected a list of {spec.input_steps} timestamps (the input window), got {got}"
            )
        times = []
        for i, text in enumerate(stamps):
            try:
                if not isinstance(text, str):
                    raise ValueError
                times.append(parse_timestamp(text))
            except ValueError:
                raise BadInput("timestamps", f"timestamps[{i}] = {text!r} is not an ISO 8601 timestamp") from None
        for i in range(1, len(times)):
            if (times[i] - times[i - 1]).total_seconds() != spec.step_seconds:
                raise BadInput(
                    "timestamps",
                    f"timestamps[{i}] is not {spec.step_seconds} s after timestamps[{i - 1}]: "
                    "rows must be one step apart",
                )
        if not isinstance(rows, list) or len(rows) != spec.input_steps:
            got = f"{len(rows)} rows" if isinstance(rows, list) else "none"
            raise BadInput("values", f"expected {spec.input_steps} rows (the input window), got {got}")
        width = len(spec.columns)
        out = np.empty((spec.input_steps, width), dtype=np.float64)
        for i, row in enumerate(rows):
            if not isinstance(row, list) or len(row) != width:
                found = f"{len(row)}" if isinstance(row, list) else "not a list"
                names = ", ".join(spec.columns)
                raise BadInput("values", f"values[{i}] needs {width} columns ({names}), got {found}")
            for j, value in enumerate(row):
                if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                    raise BadInput("values", f"values[{i}][{j}] = {value!r} is not a finite number")
                out[i, j] = value
        return times, out


def load(path: Path, *, ai_module: str, version: str, counter: int) -> ForecastPredictor:
    """The `modelyard.edge.runtimes` entry point: the model checked and warmed, ready to serve."""
    predictor = ForecastPredictor(path, ai_module=ai_module, version=version, counter=counter)
    predictor.health_check()
    predictor.health_check()  # a second run: onnxruntime allocates on the first
    return predictor
