"""ONNX export of a trained classifier, with what the edge needs to use it in its metadata.

The graph takes `log_mel` (batch, 1, n_mels, frames), the features of `features.log_mel`, and gives `logits` and
`probabilities` (batch, classes); the batch axis is dynamic. The mel front end is not in the graph: the edge runs
the same numpy code the training ran. Metadata (custom_metadata_map):
- task: "audio_classify"; framework: "modelyard-audio"; architecture;
- names: the class names by id, a JSON list;
- features: FeatureParams.to_metadata() (JSON: version, sample_rate, n_fft, hop_length, n_mels, duration_s, f_min,
  f_max).
"""

from __future__ import annotations

import io
import json
import warnings
from collections.abc import Sequence
from pathlib import Path

import onnx
import torch
from torch import nn

from modelyard.plugins.audio.features import FeatureParams
from modelyard.plugins.audio.model import WithProbabilities

OPSET = 17
TASK = "audio_classify"
FRAMEWORK = "modelyard-audio"
INPUT_NAME = "log_mel"
OUTPUT_NAMES = ("logits", "probabilities")


def export_onnx(
    model: nn.Module, params: FeatureParams, class_names: Sequence[str], architecture: str, path: Path
) -> Path:
    """Write the model (in eval mode, on the CPU) as ONNX at `path`; returns the path."""
    wrapped = WithProbabilities(model).to("cpu").eval()
    example = torch.zeros((1, 1, *params.shape), dtype=torch.float32)
    buffer = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        # The TorchScript exporter (dynamo=False: the dynamo one needs onnxscript) warns that it is deprecated, and
        # the tracer that group_norm's Python-side batch-size check (batch * h * w == 1 raises) turns a traced size
        # into a bool: that check is not part of the graph, which the parity tests run at other batch sizes.
        warnings.simplefilter("ignore", category=DeprecationWarning)
        warnings.simplefilter("ignore", category=torch.jit.TracerWarning)
        torch.onnx.export(
            wrapped,
            (example,),
            buffer,
            input_names=[INPUT_NAME],
            output_names=list(OUTPUT_NAMES),
            dynamic_axes={INPUT_NAME: {0: "batch"}, **{name: {0: "batch"} for name in OUTPUT_NAMES}},
            opset_version=OPSET,
            dynamo=False,
        )
    proto = onnx.load_model_from_string(buffer.getvalue())
    metadata = {
        "task": TASK,
        "framework": FRAMEWORK,
        "architecture": architecture,
        "names": json.dumps(list(class_names)),
        "features": params.to_metadata(),
    }
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    onnx.save_model(proto, str(tmp))
    tmp.replace(path)
    return path
