"""The `mlp` model: a multi-layer perceptron in torch (Linear, activation, dropout per hidden layer, then a linear
output layer), and its ONNX export (input "input" (batch, input_size) -> output "forecast" (batch, output_size),
batch dynamic). torch is imported only by the child process, never by the edge."""

from __future__ import annotations

import io
import warnings
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "gelu": nn.GELU}
INPUT_NAME = "input"
OUTPUT_NAME = "forecast"
ONNX_OPSET = 17


class MLP(nn.Module):  # type: ignore[misc]  # torch is untyped here (see the root mypy config)
    def __init__(
        self, input_size: int, output_size: int, hidden_layers: int, hidden_units: int, activation: str, dropout: float
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = input_size
        for _ in range(hidden_layers):
            layers += [nn.Linear(width, hidden_units), ACTIVATIONS[activation]()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = hidden_units
        layers.append(nn.Linear(width, output_size))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.net(x)
        return out


def build(config: Mapping[str, Any], input_size: int, output_size: int) -> MLP:
    return MLP(
        input_size,
        output_size,
        int(config["hidden_layers"]),
        int(config["hidden_units"]),
        str(config["activation"]),
        float(config["dropout"]),
    )


def to_onnx_bytes(model: MLP, input_size: int) -> bytes:
    """The model (on CPU, in eval mode) as ONNX bytes, with the legacy TorchScript exporter (the dynamo exporter
    needs onnxscript, which this plugin does not depend on)."""
    model = model.to("cpu").eval()
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter announces its deprecation
        torch.onnx.export(
            model,
            (torch.zeros(1, input_size),),
            buffer,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
            opset_version=ONNX_OPSET,
            dynamo=False,
        )
    return buffer.getvalue()
