"""The network, its optimiser, learning-rate schedule and loss (torch; only the training child imports this).

RatingNet: four stride-2 3x3 convolutions (width, 2w, 4w, 4w channels, batch norm, ReLU), global average pooling,
dropout and one linear unit through a sigmoid: (N, 3, H, W) normalised frames -> (N, 1) ratings in 0..1. It is
fully convolutional until the pooling, so any H, W work; the export fixes one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn


def _block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel_size=3, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class RatingNet(nn.Module):  # type: ignore[misc]  # torch is untyped here (follow_imports = skip)
    def __init__(self, width: int = 16, dropout: float = 0.0) -> None:
        super().__init__()
        self.width = width
        self.features = nn.Sequential(
            _block(3, width), _block(width, 2 * width), _block(2 * width, 4 * width), _block(4 * width, 4 * width)
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(4 * width, 1)

    def forward(self, images: Any) -> Any:
        x = self.pool(self.features(images)).flatten(1)
        return torch.sigmoid(self.head(self.dropout(x)))


def build_model(config: Mapping[str, Any]) -> RatingNet:
    return RatingNet(width=int(config["width"]), dropout=float(config["dropout"]))


def build_optimizer(model: nn.Module, config: Mapping[str, Any]) -> Any:
    lr, decay, momentum = float(config["lr"]), float(config["weight_decay"]), float(config["momentum"])
    name = str(config["optimizer"])
    if name == "sgd":
        return torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=decay)
    if name == "adam":
        return torch.optim.Adam(model.parameters(), lr=lr, betas=(momentum, 0.999), weight_decay=decay)
    if name == "adamw":
        return torch.optim.AdamW(model.parameters(), lr=lr, betas=(momentum, 0.999), weight_decay=decay)
    raise ValueError(f"unknown optimizer {name!r}")


def build_scheduler(optimizer: Any, config: Mapping[str, Any]) -> Any:
    """Cosine decay from lr to lr * lrf over the configured epochs, stepped once per epoch."""
    epochs, lrf = int(config["epochs"]), float(config["lrf"])

    def factor(epoch: int) -> float:
        progress = min(epoch / max(epochs - 1, 1), 1.0)
        return lrf + (1.0 - lrf) * 0.5 * (1.0 + math.cos(math.pi * progress))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def build_loss(config: Mapping[str, Any]) -> nn.Module:
    name = str(config["loss"])
    if name == "mse":
        return nn.MSELoss()
    if name == "huber":
        return nn.HuberLoss(delta=0.1)  # ratings live in 0..1: quadratic only for small errors
    if name == "l1":
        return nn.L1Loss()
    raise ValueError(f"unknown loss {name!r}")


def torch_device(device: str) -> Any:
    """The trainer's device string as a torch device: 'cpu', 'cuda:N', or a GPU index 'N' (the first of 'N,M')."""
    if device == "cpu":
        return torch.device("cpu")
    index = device.removeprefix("cuda:").split(",")[0]
    if not index.isdigit():
        raise ValueError(f"unknown device {device!r}")
    if not torch.cuda.is_available():
        raise RuntimeError(f"device {device!r} asked for, but torch sees no CUDA GPU here")
    return torch.device(f"cuda:{int(index)}")
