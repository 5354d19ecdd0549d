"""Inference time of an ONNX model on this machine's CPU: a zero input of the model's declared shape (dynamic
dimensions taken as 1), a warm-up run, then the median of `runs`. A figure to compare versions by, measured the same
way for all of them; the edge measures its own."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

_DTYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(int64)": np.int64}


def median_ms(model: Path, runs: int = 10) -> float:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # a stable figure on a shared machine
    session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    feeds = {
        i.name: np.zeros([d if isinstance(d, int) and d > 0 else 1 for d in i.shape], _DTYPES.get(i.type, np.float32))
        for i in session.get_inputs()
    }
    session.run(None, feeds)
    times = []
    for _ in range(max(runs, 1)):
        started = time.perf_counter()
        session.run(None, feeds)
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 3)
