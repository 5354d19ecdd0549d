# mypy: disable-error-code="misc"
# (The workspace's mypy treats torch as Any (follow_imports=skip), so every nn.Module subclass "subclasses Any".)
"""The classifiers: small networks over a log-mel image (batch, 1, n_mels, frames) -> class logits (batch, classes).

Both start by mapping the features' fixed range (decibels below the clip's peak, -80..0: see features.log_mel)
onto -1..1, and normalise with group or layer norms, never batch norms: with the few batches of a small dataset, a
batch norm's running statistics lag far behind, and evaluation (and the edge) would see another network than
training did. Both average over time only and keep the
frequency bands apart up to the classifier: which band a sound sits in is what tells a low hum from a whistle, and a
global average over frequency too would throw it away (convolutions alone do not know where they are). So a model
takes clips of any length but only the n_mels it was built for (down to 8: every downsampling rounds up).
Everything exports to ONNX (opset 17) as plain operators.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.nn import functional

ARCHITECTURES = ("cnn_small", "convnext_mini")
FEATURE_RANGE_DB = 80.0  # features.TOP_DB: the features lie in -80..0


class InputScale(nn.Module):
    """-80..0 dB onto -1..1."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        half = FEATURE_RANGE_DB / 2
        return (x + half) / half


class ConvBlock(nn.Module):
    """3x3 conv, group norm, ReLU, 2x2 max pool (rounding up)."""

    def __init__(self, channels_in: int, channels_out: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels_in, channels_out, kernel_size=3, padding=1, bias=False)
        self.norm = nn.GroupNorm(min(8, channels_out), channels_out)
        self.pool = nn.MaxPool2d(kernel_size=2, ceil_mode=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        result: torch.Tensor = self.pool(functional.relu(self.norm(self.conv(x))))
        return result


def _halved(size: int, times: int) -> int:
    """A size after `times` downsamplings by 2 that round up."""
    for _ in range(times):
        size = math.ceil(size / 2)
    return size


class SmallCnn(nn.Module):
    def __init__(self, classes: int, n_mels: int, dropout: float = 0.2, widths: tuple[int, ...] = (16, 32, 64)) -> None:
        super().__init__()
        self.input_scale = InputScale()
        blocks, channels = [], 1
        for width in widths:
            blocks.append(ConvBlock(channels, width))
            channels = width
        self.blocks = nn.Sequential(*blocks)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(channels * _halved(n_mels, len(widths)), classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.input_scale(x))
        x = torch.flatten(torch.mean(x, dim=3), start_dim=1)  # pooled over time only: (batch, channels * bands)
        result: torch.Tensor = self.head(self.dropout(x))
        return result


class LayerNorm2d(nn.Module):
    """LayerNorm over the channels of a (batch, channels, h, w) tensor, as ConvNeXt normalises."""

    def __init__(self, channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(channels, eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        result: torch.Tensor = self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        return result


class ConvNextBlock(nn.Module):
    """Depthwise 7x7 conv, LayerNorm, pointwise 4x expansion with GELU, projection, layer scale, residual."""

    def __init__(self, channels: int, layer_scale: float = 1e-6) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(channels, channels, kernel_size=7, padding=3, groups=channels)
        self.norm = nn.LayerNorm(channels, eps=1e-6)
        self.expand = nn.Linear(channels, 4 * channels)
        self.project = nn.Linear(4 * channels, channels)
        self.gamma = nn.Parameter(torch.full((channels,), layer_scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.depthwise(x).permute(0, 2, 3, 1)  # channels last for the norm and the pointwise layers
        y = self.project(functional.gelu(self.expand(self.norm(y)))) * self.gamma
        result: torch.Tensor = x + y.permute(0, 3, 1, 2)
        return result


class ConvNextMini(nn.Module):
    def __init__(
        self, classes: int, n_mels: int, dropout: float = 0.2, widths: tuple[int, ...] = (32, 64, 128)
    ) -> None:
        super().__init__()
        self.input_scale = InputScale()
        # No norm right after the stem: per-pixel LayerNorm over channels made from one input channel would keep
        # little but the sign of the input; the first block's depthwise conv mixes neighbours before it normalises.
        self.stem = nn.Conv2d(1, widths[0], kernel_size=3, padding=1)
        stages: list[nn.Module] = []
        for index, width in enumerate(widths):
            if index:
                stages += [LayerNorm2d(widths[index - 1]), nn.Conv2d(widths[index - 1], width, 3, stride=2, padding=1)]
            stages.append(ConvNextBlock(width))
        self.stages = nn.Sequential(*stages)
        self.norm = nn.LayerNorm(widths[-1], eps=1e-6)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(widths[-1] * _halved(n_mels, len(widths) - 1), classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stages(self.stem(self.input_scale(x)))
        x = self.norm(torch.mean(x, dim=3).transpose(1, 2))  # pooled over time only: (batch, bands, channels)
        result: torch.Tensor = self.head(self.dropout(torch.flatten(x, start_dim=1)))
        return result


def build_model(architecture: str, classes: int, n_mels: int, dropout: float) -> nn.Module:
    if classes < 1:
        raise ValueError("a classifier needs at least one class")
    if architecture == "cnn_small":
        return SmallCnn(classes, n_mels, dropout)
    if architecture == "convnext_mini":
        return ConvNextMini(classes, n_mels, dropout)
    raise ValueError(f"unknown model_architecture {architecture!r}; known: {', '.join(ARCHITECTURES)}")


class WithProbabilities(nn.Module):
    """What is exported: the classifier's logits and their softmax."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits: torch.Tensor = self.model(x)
        return logits, torch.softmax(logits, dim=1)


def parameter_count(model: nn.Module) -> int:
    return sum(int(p.numel()) for p in model.parameters())


def describe(model: nn.Module) -> dict[str, Any]:
    return {"type": type(model).__name__, "parameters": parameter_count(model)}
